"""Child process for test_outbox: commits events of one job, then dies by SIGKILL inside its relay.

argv: settings as JSON, number of events, how many to publish (confirmed by the broker) before
dying; 0 dies between commit and the first publish.
"""

import asyncio
import os
import signal
import sys

from compressor_contracts import service_topology
from compressor_contracts.examples import example
from compressor_kit.messaging import build_broker, declare_topology, outbox_publisher, register_publishers
from compressor_kit.mongo import create_client
from compressor_kit.outbox import Outbox
from compressor_kit.relay import OutboxRelay
from compressor_kit.settings import Settings
from compressor_kit.telemetry import setup_tracing


async def main(settings: Settings, events: int, publish_before_dying: int) -> None:
    client = create_client(settings)
    outbox = Outbox(client, client[settings.database_name("intake")], "intake")
    broker = build_broker(settings, "intake", setup_tracing("intake"))
    publish = outbox_publisher(register_publishers(broker, "intake"))
    await broker.connect()
    await declare_topology(broker, service_topology("intake"))
    calls = 0

    async def publish_then_die(event):
        # One job's events are published one after another, so every earlier call was confirmed.
        nonlocal calls
        if calls == publish_before_dying:
            os.kill(os.getpid(), signal.SIGKILL)
        calls += 1
        await publish(event)

    for n in range(events):

        async def work(uow, n=n):
            await uow.publish(example("job.requested.v1").model_copy(update={"job_id": "JOB-1"}))

        await outbox.transact(work)
    print("committed", flush=True)
    relay = OutboxRelay(outbox, publish_then_die, poll_interval=0.05, lease_seconds=settings.outbox_lease_seconds)
    await relay.run()


if __name__ == "__main__":
    asyncio.run(main(Settings.model_validate_json(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])))
