#!/usr/bin/env bash
# Load test: gunicorn (2 sync workers) on 127.0.0.1 against a seeded database, driven by locust
# (bench/load.py) headless with bounded users and time. Prints throughput, p50/p95/p99 and errors
# per kind; exits 1 when a target is missed (0 errors, reads p95 < 100 ms).
#
#   bench/load.sh                                   # 50 users, +10/s, 2 minutes
#   LOAD_USERS=20 LOAD_TIME=30s bench/load.sh       # shorter
#
# LOAD_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/contacts_load) is seeded once with
# bench/reads.py (2 tenants x LOAD_CONTACTS contacts, default 100,000, with tags, lists, consent and
# custom attributes) and reused by later runs; each run adds its own contacts and jobs to it.
# LOAD_REDIS_URL (default redis://127.0.0.1:6379/10) is the cache, the rate limiter's store and the
# Celery broker. Imports and exports started by the test are queued there and purged at the end:
# no Celery worker runs unless LOAD_WORKER=1 (one worker, concurrency 1, on the same 2 cores).
# Rate limits are lifted for the run (RATE_LIMIT_PLANS far above what 50 users send): this measures
# the service, not the limiter refusing it.
set -euo pipefail
cd "$(dirname "$0")/.."

USERS=${LOAD_USERS:-50}
SPAWN_RATE=${LOAD_SPAWN_RATE:-10}
RUN_TIME=${LOAD_TIME:-2m}
PORT=${LOAD_PORT:-8765}
CONTACTS=${LOAD_CONTACTS:-100000}
if [ "$USERS" -gt 200 ]; then
  echo "LOAD_USERS is at most 200 on this machine" >&2
  exit 2
fi

export DATABASE_URL=${LOAD_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/contacts_load}
export REDIS_URL=${LOAD_REDIS_URL:-redis://127.0.0.1:6379/10}
export CELERY_BROKER_URL=$REDIS_URL
export DJANGO_SECRET_KEY=${DJANGO_SECRET_KEY:-load-test-secret-key-not-for-production-0123456789}
export DJANGO_DEBUG=0
export LOG_LEVEL=${LOG_LEVEL:-WARNING}
export RATE_LIMIT_PLANS='{"free": {"tenant": 10000000, "api_key": 10000000, "user": 10000000, "expensive": 10000000},
 "standard": {"tenant": 10000000, "api_key": 10000000, "user": 10000000, "expensive": 10000000},
 "enterprise": {"tenant": 10000000, "api_key": 10000000, "user": 10000000, "expensive": 10000000}}'
export MEDIA_ROOT=${MEDIA_ROOT:-$PWD/var/load/media}
OUT=var/load
mkdir -p "$OUT"

if [ ! -x .venv/bin/locust ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[bench]"
fi

echo "== seeding (once) 2 tenants x $CONTACTS contacts in $DATABASE_URL"
READS_DATABASE_URL=$DATABASE_URL .venv/bin/python bench/reads.py --contacts "$CONTACTS" --seed-only

echo "== API keys and sample contacts -> $OUT/fixture.json"
CONTACTS=$CONTACTS .venv/bin/python - > "$OUT/fixture.json" <<'PY'
import json, os
import django
os.environ["DJANGO_SETTINGS_MODULE"] = "contacts_service.settings"
django.setup()
from contacts.models import Contact
from contacts_service import services
from contacts_service.models import Tenant

count = os.environ["CONTACTS"]
tenants = []
for name in (f"reads-a-{count}", f"reads-b-{count}"):
    tenant = Tenant.objects.get(name=name)
    key = services.apikey_create(tenant=tenant, name="load test", role="owner").key
    ids = Contact.objects.unscoped().filter(tenant=tenant, deleted_at__isnull=True).order_by("?")[:500]
    tenants.append({"name": name, "key": key, "contact_ids": [str(pk) for pk in ids.values_list("id", flat=True)]})
print(json.dumps({"tenants": tenants}))
PY

PIDS=()
stop() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  .venv/bin/celery -A contacts_service purge -f >/dev/null 2>&1 || true
}
trap stop EXIT

THREADS=${LOAD_THREADS:-1}  # threads per worker (gthread when > 1): a slow query then holds one thread, not the worker
echo "== gunicorn -w 2 --threads $THREADS on 127.0.0.1:$PORT"
.venv/bin/gunicorn contacts_service.wsgi -b "127.0.0.1:$PORT" -w 2 --threads "$THREADS" --log-level warning \
  >"$OUT/gunicorn.log" 2>&1 &
PIDS+=($!)
if [ "${LOAD_WORKER:-0}" = "1" ]; then
  .venv/bin/celery -A contacts_service worker -c 1 -l warning >"$OUT/worker.log" 2>&1 &
  PIDS+=($!)
fi
for _ in $(seq 50); do
  if .venv/bin/python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$PORT/admin/login/', timeout=2)" 2>/dev/null; then
    break
  fi
  sleep 0.5
done

echo "== locust: $USERS users, +$SPAWN_RATE/s, $RUN_TIME (machine: $(nproc) cores, load average$(uptime | sed 's/.*load average//'))"
set +e
.venv/bin/locust -f bench/load.py --headless -u "$USERS" -r "$SPAWN_RATE" -t "$RUN_TIME" --stop-timeout 10 \
  --host "http://127.0.0.1:$PORT" --fixture "$OUT/fixture.json" --only-summary --csv "$OUT/locust" \
  2>"$OUT/locust.log"
status=$?
set -e
# What the server cost: CPU seconds of the gunicorn workers (the same 2 cores host PostgreSQL, locust
# and anything else running).
echo "gunicorn workers' CPU time: $(ps -o cputime= --ppid "${PIDS[0]}" | tr '\n' ' ')(load average$(uptime | sed 's/.*load average//'))"
grep -i "cpu usage" "$OUT/locust.log" || true
echo "(locust's own log: $OUT/locust.log; gunicorn's: $OUT/gunicorn.log)"
exit $status
