"""Waypoint's schemathesis hooks, loaded through SCHEMATHESIS_HOOKS by `cargo xtask fuzz`.

The environment names the stack and the run:
  WAYPOINT_URL          the stack's base URL (nginx in front of the gateways)
  WAYPOINT_ADMIN_TOKEN  a super_admin's access token, to read the live policy
  WAYPOINT_FUZZ_TOKEN   the token this run fuzzes with (the admin's or the traveller's)
  WAYPOINT_FUZZ_AS      "admin" or "traveller"

What they add:
  - DESIGN's uniform error statuses (400, 401, 403, 406, 415, 422, 429, 503, and 404 where
    the path names a record) with the one error body, on every operation that does not
    document them itself: the gateway can answer any of them anywhere, and the services'
    descriptions leave them out. So those statuses are not "undocumented", and their bodies
    are checked against the error shape;
  - the check `admin_operations_refuse_the_caller`: a 2xx answer to an operation that the
    live policy neither marks public nor grants to one of the caller's roles is a failure
    (run with the traveller's token, it asserts that no admin route lets a traveller in);
  - records that exist: half of the generated path ids are replaced by ids the lists
    (`GET /v1/<collection>`) return before the run, so updates and deletes reach real rows
    instead of stopping at 404;
  - a filter that keeps the fuzzer from locking itself out: no write request names the
    fuzzing users themselves, their roles, or the permissions and resources those roles
    rest on (writes to every other id, and to ids the fuzzer creates, still go through).
"""

import json
import os
import re
import urllib.request

import schemathesis

URL = os.environ["WAYPOINT_URL"].rstrip("/")
ADMIN_TOKEN = os.environ["WAYPOINT_ADMIN_TOKEN"]
FUZZ_TOKEN = os.environ["WAYPOINT_FUZZ_TOKEN"]
FUZZ_AS = os.environ.get("WAYPOINT_FUZZ_AS", "admin")
WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def get(path, token=ADMIN_TOKEN):
    request = urllib.request.Request(
        URL + path,
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def every(path, token=ADMIN_TOKEN):
    """All results of a paginated list."""
    results, offset = [], 0
    while True:
        sep = "&" if "?" in path else "?"
        page = get(f"{path}{sep}limit=100&offset={offset}", token)
        results.extend(page["results"])
        offset += len(page["results"])
        if not page.get("next") or not page["results"]:
            return results


def shape(path):
    """A route pattern with its parameters unnamed: /v1/users/{id} -> /v1/users/{}."""
    return re.sub(r"\{[^}]*\}", "{}", path)


def user_and_roles(token):
    user_id = get("/v1/auth/me", token)["id"]
    roles = every(f"/v1/users/{user_id}/roles")
    return user_id, [role["id"] for role in roles]


def grants(role_ids):
    return [p for role in role_ids for p in every(f"/v1/roles/{role}/permissions")]


ADMIN_USER, ADMIN_ROLES = user_and_roles(ADMIN_TOKEN)
FUZZ_USER, FUZZ_ROLES = user_and_roles(FUZZ_TOKEN)

# What the caller may do, read from the live policy before the run: public operations and
# the grants of the caller's roles, as (route shape, method).
ALLOWED = set()
for permission in every("/v1/permissions"):
    if permission["is_public"]:
        ALLOWED.add((shape(permission["pattern"]), permission["method"]))
for permission in grants(FUZZ_ROLES):
    ALLOWED.add((shape(permission["pattern"]), permission["method"]))

# The fuzzing users' lifelines: their accounts, roles, and the grants those roles hold.
LIFELINE_GRANTS = grants(set(ADMIN_ROLES) | set(FUZZ_ROLES))
PROTECTED = {
    "/v1/users/": {ADMIN_USER, FUZZ_USER},
    "/v1/roles/": set(ADMIN_ROLES) | set(FUZZ_ROLES),
    "/v1/permissions/": {p["id"] for p in LIFELINE_GRANTS},
    "/v1/resources/": {p["resource_id"] for p in LIFELINE_GRANTS},
}


UNIFORM_ERRORS = {
    "400": "Malformed request",
    "401": "Missing, invalid or expired credentials",
    "403": "Authenticated but not allowed",
    "406": "Unacceptable Accept",
    "415": "Unsupported Content-Type",
    "422": "Validation error",
    "429": "Throttled",
    "503": "A dependency is down",
}
ERROR_BODY = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {"type": "object"},
            },
        }
    },
}


@schemathesis.hook
def before_load_schema(context, raw_schema):
    for path, item in raw_schema.get("paths", {}).items():
        statuses = dict(UNIFORM_ERRORS)
        if "{" in path:
            statuses["404"] = "Unknown record"
        for method, operation in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            for status, description in statuses.items():
                responses.setdefault(
                    status,
                    {
                        "description": f"{description} (added by fuzz/hooks.py)",
                        "content": {"application/json": {"schema": ERROR_BODY}},
                    },
                )


def existing(collection):
    """Ids of the first records of /v1/<collection>, as the caller sees them."""
    try:
        page = get(f"/v1/{collection}?limit=50", FUZZ_TOKEN)
    except Exception:  # not a list, or not the caller's to read
        return []
    return [r["id"] for r in page.get("results", []) if isinstance(r, dict) and "id" in r]


KNOWN = {}


@schemathesis.hook
def map_path_parameters(context, path_parameters):
    operation = context.operation
    named = re.match(r"^/v1/([a-z-]+)/\{([^}]*)\}", operation.path) if operation else None
    if not named or not isinstance(path_parameters, dict):
        return path_parameters
    collection, name = named.groups()
    if collection not in KNOWN:
        KNOWN[collection] = existing(collection)
    choices = KNOWN[collection]
    if operation.method.upper() in WRITES:
        protected = PROTECTED.get(f"/v1/{collection}/", set())
        choices = [i for i in choices if i not in protected]
    value = path_parameters.get(name)
    # Every other generated integer id becomes an existing one (chosen by the value, so a
    # test case maps the same way when replayed or shrunk).
    if not choices or not isinstance(value, int) or isinstance(value, bool) or value % 2:
        return path_parameters
    return {**path_parameters, name: choices[(value // 2) % len(choices)]}


def ids(value):
    try:
        return {int(value)}
    except (TypeError, ValueError):
        return set()


@schemathesis.hook
def filter_case(context, case):
    if case.method.upper() not in WRITES:
        return True
    path = case.operation.path
    for prefix, protected in PROTECTED.items():
        # The id right after the prefix: /v1/users/{id}/roles/{role_id} names a user.
        named = re.match(r"\{([^}]*)\}", path[len(prefix):]) if path.startswith(prefix) else None
        if named and ids((case.path_parameters or {}).get(named.group(1))) & protected:
            return False
    return True


@schemathesis.check
def admin_operations_refuse_the_caller(ctx, response, case):
    """A 2xx only from operations that are public or granted to one of the caller's roles."""
    if not 200 <= response.status_code < 300:
        return None
    path = case.operation.path
    if not path.startswith("/v1/") or path == "/v1/openapi.json":
        return None
    if (shape(path), case.method.upper()) in ALLOWED:
        return None
    raise AssertionError(
        f"{case.method.upper()} {path} answered {response.status_code} to the {FUZZ_AS}, "
        "whose roles hold no permission for it and which is not public"
    )
