"""Shows the six running services and what each is ready to do.

Later phases extend this into a whole service job through all nine phases; for now it proves
the stack is up: every service answers readiness with its dependencies checked.
"""

import json
import sys
import urllib.error
import urllib.request

SERVICES = {"intake": 8001, "dispatch": 8002, "maintenance": 8003, "quality": 8004, "reporting": 8005, "feedback": 8006}


def readiness(port: int) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)
    except OSError as error:
        return 0, {"detail": str(error)}


def main() -> int:
    print(f"{'service':<12} {'port':>5}  {'state':<10} rabbitmq  mongodb  object store")
    all_ready = True
    for name, port in SERVICES.items():
        status, body = readiness(port)
        checks = body.get("checks", {})
        state = "ready" if status == 200 else f"NOT READY ({status})"
        all_ready &= status == 200
        print(
            f"{name:<12} {port:>5}  {state:<10} {checks.get('rabbitmq', '-'):<9} {checks.get('mongodb', '-'):<8} "
            f"{checks.get('object_store', '-')}"
        )
    print()
    print("All six services are ready." if all_ready else "Some services are not ready: see var/log/<service>.log")
    print("Stop them with `make stop`; the API documents are at http://127.0.0.1:<port>/schema")
    return 0 if all_ready else 1


if __name__ == "__main__":
    sys.exit(main())
