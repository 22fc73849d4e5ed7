"""HTTP API of service requests: record one from any channel, the management view, cancellation."""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import Annotated

from litestar import Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody, Parameter
from pydantic import BaseModel, ConfigDict, Field

from compressor_contracts import Priority, RequestChannel, StaffRole
from compressor_contracts.common import ObjectKey
from compressor_kit.auth import CUSTOMER, STAFF, principal_of, requires
from compressor_kit.pagination import Limit, Offset, Page
from compressor_kit.refusals import Refusal
from intake_service.actors import ALL_PEOPLE, FRONT_DESK, CallerRequest, ensure_may_see_customer, is_staff
from intake_service.customer_file import store as file_store
from intake_service.customer_file.api import WIDE, ContactIn
from intake_service.customer_file.domain import UnitDetails
from intake_service.requests import photos, recording
from intake_service.requests import store as jobs
from intake_service.requests.domain import JobStatus, ServiceRequest, age_hours
from intake_service.requests.views import JobView, job_view
from intake_service.settings import IntakeRuntime

TAGS = ["Service requests"]

IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        min_length=1,
        max_length=200,
        required=False,
        description="Repeat the request with the same key to get the same job back; nothing new is published.",
    ),
]


def fingerprint(body: BaseModel) -> str:
    """What a repeated Idempotency-Key must match: the same request body."""
    return hashlib.sha256(body.model_dump_json().encode()).hexdigest()


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class NewUnitIn(_Input):
    """A compressor the customer file does not know yet, described by the caller."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"model_code": "KS-ASD40", "serial_number": "KSR-1180", "purchase_date": "2024-02-01"}]
        }
    )

    model_code: str = Field(max_length=64, description="Model code from the equipment catalogue.")
    serial_number: str = Field(min_length=1, max_length=200)
    purchase_date: date
    running_hours: int | None = Field(default=None, ge=-WIDE, le=WIDE)

    def details(self) -> UnitDetails:
        return UnitDetails(
            model_code=self.model_code,
            serial_number=self.serial_number,
            purchase_date=self.purchase_date,
            running_hours=self.running_hours,
        )


class RequestIn(_Input):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "channel": "phone",
                    "priority": "high",
                    "customer_id": "CUST-1A2B3C4D5E6F",
                    "site_id": "SITE-7F3A9C21B04D",
                    "equipment_id": "EQ-5D0E8B7A1C92",
                    "fault_description": "Trips on high discharge temperature after about 40 minutes of running.",
                }
            ]
        }
    )

    channel: RequestChannel = Field(description="phone, portal, callback or proactive.")
    priority: Priority | None = Field(default=None, description="Defaults to normal (low for proactive).")
    customer_id: str = Field(max_length=64)
    site_id: str = Field(max_length=64)
    equipment_id: str | None = Field(
        default=None, max_length=64, description="A unit on file; or describe it in `equipment`."
    )
    equipment: NewUnitIn | None = Field(default=None, description="A unit not on file yet: registered with the job.")
    fault_description: str | None = Field(
        default=None, min_length=1, max_length=2000, description="Required except for proactive maintenance."
    )
    contact: ContactIn | None = Field(default=None, description="Defaults to the customer's main contact.")
    origin_reference: str | None = Field(
        default=None, min_length=1, max_length=200, description="Call-back record id (required for callback)."
    )
    photo_keys: list[ObjectKey] = Field(
        default=[],
        max_length=photos.MAX_PHOTOS,
        description="Photos of the fault already uploaded (POST /requests/photos) for this customer.",
    )

    def as_request(self) -> ServiceRequest:
        return ServiceRequest(
            channel=self.channel,
            priority=self.priority,
            customer_id=self.customer_id,
            site_id=self.site_id,
            equipment_id=self.equipment_id,
            equipment=self.equipment.details() if self.equipment else None,
            fault_description=self.fault_description,
            contact=self.contact.details() if self.contact else None,
            origin_reference=self.origin_reference,
            photo_keys=tuple(self.photo_keys),
        )


class PhotoRequest(_Input):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"file_name": "alarm-display.jpg", "content_type": "image/jpeg"}]}
    )

    file_name: str = Field(min_length=1, max_length=200, description="Original file name, e.g. 'alarm-display.jpg'.")
    content_type: str = Field(max_length=100, description="image/jpeg, image/png, image/heic or image/webp.")
    customer_id: str | None = Field(
        default=None, max_length=64, description="Whose request the photo is for; a customer's own id by default."
    )


PHOTO_KEY = "CUST-1A2B3C4D5E6F/3f9a1c2b7d4e5f60-alarm-display.jpg"


class PhotoUploadUrl(BaseModel):
    """Where to POST one photo, until when; the request then names its `photo_key` in `photo_keys`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "photo_key": PHOTO_KEY,
                    "upload_url": "https://objects.example/compressor-request-photos",
                    "method": "POST",
                    "fields": {
                        "key": f"uploads/{PHOTO_KEY}",
                        "Content-Type": "image/jpeg",
                        "policy": "eyJleHBpcmF0aW9uIjogIjIwMjYtMDMtMDJUMDg6MzA6MDBaIiwgLi4ufQ==",
                        "x-amz-algorithm": "AWS4-HMAC-SHA256",
                        "x-amz-credential": "intake/20260302/us-east-1/s3/aws4_request",
                        "x-amz-date": "20260302T081500Z",
                        "x-amz-signature": "...",
                    },
                    "content_type": "image/jpeg",
                    "max_bytes": photos.MAX_PHOTO_BYTES,
                    "expires_at": "2026-03-02T08:30:00Z",
                }
            ]
        }
    )

    photo_key: str
    upload_url: str = Field(description="The object store's bucket URL to POST the upload form to.")
    method: str = Field(description="Always POST.")
    fields: dict[str, str] = Field(
        description="Presigned POST policy: send every field as multipart/form-data, then the photo as `file` "
        "(last). The store accepts only this key, this content type, at most max_bytes, until expires_at."
    )
    content_type: str
    max_bytes: int
    expires_at: datetime


class PhotoLink(BaseModel):
    """A request's photo and a short-lived URL to download it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "photo_key": PHOTO_KEY,
                    "download_url": f"https://objects.example/compressor-request-photos/{PHOTO_KEY}?X-Amz-Signature=...",
                }
            ]
        }
    )

    photo_key: str
    download_url: str


class CancelIn(_Input):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "Our technician opened the cooling-water valve; it runs again."}]}
    )

    reason: str = Field(min_length=1, max_length=2000)
    cancelled_by: str | None = Field(
        default=None, min_length=1, max_length=200, description="Who asked; defaults to the caller."
    )


class PriorityCount(BaseModel):
    priority: Priority
    open: int = Field(description="Open requests of this priority.")
    oldest_age_hours: float | None = Field(description="Age of the oldest of them; null when there are none.")


class OpenRequestsSummary(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "priorities": [
                        {"priority": "critical", "open": 1, "oldest_age_hours": 4.0},
                        {"priority": "high", "open": 1, "oldest_age_hours": 1.0},
                        {"priority": "normal", "open": 2, "oldest_age_hours": 5.0},
                        {"priority": "low", "open": 0, "oldest_age_hours": None},
                    ],
                    "open": 4,
                }
            ]
        }
    )

    priorities: list[PriorityCount] = Field(description="Every priority, most urgent first.")
    open: int = Field(description="Open requests in all.")


@post(
    "/requests",
    **requires(StaffRole.RECEPTION, StaffRole.MANAGER, StaffRole.ADMIN, CUSTOMER),
    operation_id="recordServiceRequest",
    tags=TAGS,
)
async def record_request(
    request: CallerRequest,
    runtime: NamedDependency[IntakeRuntime],
    data: JSONBody[RequestIn],
    idempotency_key: IdempotencyKey = None,
) -> Response[JobView]:
    """Record a service request from a call, the portal, a call-back record or a proactive visit;
    publishes job.requested. 201 with the new job; 200 with the same job for a repeated Idempotency-Key."""
    recorded = await recording.record_service_request(
        runtime,
        principal_of(request),
        data.as_request(),
        idempotency_key=idempotency_key,
        request_fingerprint=fingerprint(data),
    )
    view = job_view(recorded.job, runtime.clock.now())
    if recorded.replayed:
        return Response(view, status_code=200, headers={"Idempotent-Replayed": "true"})
    return Response(view, status_code=201)


@post(
    "/requests/photos",
    **requires(CUSTOMER, *FRONT_DESK),
    operation_id="requestServiceRequestPhotoUpload",
    tags=TAGS,
)
async def request_photo_upload(
    request: CallerRequest, runtime: NamedDependency[IntakeRuntime], data: JSONBody[PhotoRequest]
) -> PhotoUploadUrl:
    """A presigned POST form for one photo of the fault (intake's request-photos bucket), under the
    customer's id; name its photo_key in the request's photo_keys, which checks the photo in the store
    (at most max_bytes, an image of a photo type) before recording. A customer uploads for itself only."""
    principal = principal_of(request)
    customer_id = data.customer_id or ("" if is_staff(principal) else principal.subject)
    if not customer_id:
        raise Refusal.invalid("staff name the customer the photo is for", field="customer_id")
    ensure_may_see_customer(principal, customer_id)
    photos.check_photo_type(data.content_type)
    if await file_store.load_customer(runtime, customer_id) is None:
        raise Refusal.invalid("unknown customer", field="customer_id")
    key, now = photos.new_photo_key(customer_id, data.file_name), runtime.clock.now()
    form = await photos.upload_form(runtime, key, data.content_type)
    return PhotoUploadUrl(
        photo_key=key,
        upload_url=form.url,
        method="POST",
        fields=form.fields,
        content_type=data.content_type,
        max_bytes=photos.MAX_PHOTO_BYTES,
        expires_at=now + photos.UPLOAD_WINDOW,
    )


@get("/requests", **requires(*STAFF), operation_id="listServiceRequests", tags=TAGS)
async def list_requests(
    runtime: NamedDependency[IntakeRuntime],
    status: Annotated[
        str, Parameter(pattern="^(open|cancelled|closed|all)$", description="open (default), cancelled, closed or all")
    ] = "open",
    priority: FromQuery[Priority | None] = None,
    channel: FromQuery[RequestChannel | None] = None,
    customer_id: FromQuery[str | None] = None,
    region: FromQuery[str | None] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[JobView]:
    """The management view: requests by priority (most urgent first), then age (oldest first)."""
    found, total = await jobs.jobs_page(
        runtime,
        status=None if status == "all" else JobStatus(status),
        priority=priority,
        channel=channel,
        customer_id=customer_id,
        region=region,
        limit=limit,
        offset=offset,
    )
    now = runtime.clock.now()
    return Page(items=[job_view(job, now) for job in found], total=total, limit=limit, offset=offset)


@get("/requests/summary", **requires(*STAFF), operation_id="summariseOpenRequests", tags=TAGS)
async def summarise_open_requests(runtime: NamedDependency[IntakeRuntime]) -> OpenRequestsSummary:
    """Open requests per priority (most urgent first): how many, and the age of the oldest."""
    found = await jobs.open_jobs_by_priority(runtime)
    now = runtime.clock.now()
    priorities = [
        PriorityCount(
            priority=priority,
            open=found[priority][0] if priority in found else 0,
            oldest_age_hours=age_hours(found[priority][1], now) if priority in found else None,
        )
        for priority in Priority
    ]
    return OpenRequestsSummary(priorities=priorities, open=sum(count for count, _ in found.values()))


@get("/requests/{job_id:str}", **requires(*ALL_PEOPLE), operation_id="getServiceRequest", tags=TAGS)
async def get_request(
    request: CallerRequest, runtime: NamedDependency[IntakeRuntime], job_id: FromPath[str]
) -> JobView:
    job = await jobs.load_job(runtime, job_id)
    if job is None:
        raise Refusal.not_found("unknown job", field="job_id")
    ensure_may_see_customer(principal_of(request), job.requested.customer.customer_id)
    return job_view(job, runtime.clock.now())


@get("/requests/{job_id:str}/photos", **requires(*ALL_PEOPLE), operation_id="listServiceRequestPhotos", tags=TAGS)
async def list_request_photos(
    request: CallerRequest, runtime: NamedDependency[IntakeRuntime], job_id: FromPath[str]
) -> list[PhotoLink]:
    """The requester's photos of the fault, each with a short-lived download URL (a customer: its own jobs)."""
    job = await jobs.load_job(runtime, job_id)
    if job is None:
        raise Refusal.not_found("unknown job", field="job_id")
    ensure_may_see_customer(principal_of(request), job.requested.customer.customer_id)
    return [
        PhotoLink(photo_key=key, download_url=await photos.download_url(runtime, key))
        for key in job.requested.photo_keys
    ]


@post(
    "/requests/{job_id:str}/cancel",
    **requires(CUSTOMER, *FRONT_DESK),
    operation_id="cancelServiceRequest",
    tags=TAGS,
    status_code=200,
)
async def cancel_request(
    request: CallerRequest,
    runtime: NamedDependency[IntakeRuntime],
    job_id: FromPath[str],
    data: JSONBody[CancelIn],
) -> JobView:
    """Cancel an open job at the customer's request; publishes job.cancelled. 409 when not open."""
    job = await recording.cancel_job(
        runtime, principal_of(request), job_id, reason=data.reason, cancelled_by=data.cancelled_by
    )
    return job_view(job, runtime.clock.now())


ROUTES = [
    record_request,
    request_photo_upload,
    list_requests,
    summarise_open_requests,
    get_request,
    list_request_photos,
    cancel_request,
]
