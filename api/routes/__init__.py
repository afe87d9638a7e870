"""Transport: HTTP in, service call, HTTP out. No queries and no decisions here."""

# The prefix sits on each router (not on include_router) so a route's own template, which the metrics
# middleware labels requests with, is the full path: /v1/jobs/{job_id}.
API_PREFIX = "/v1"
