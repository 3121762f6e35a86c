#!/usr/bin/env python3
"""Randomized soak of `sluice run` with an oracle. Run through scripts/soak.sh,
which starts and migrates the private PostgreSQL this needs and removes it
afterwards; see its --help and tests/soak/README.md.

One random.Random(seed) drives the master schedule: at each step it draws the
pause before the step, the action (a writer or a fault) and a seed for the
action's own random.Random. Actions run as threads, overlapping. Anything an
action decides that a later step may depend on (the names of the files it
writes) is decided in the master thread before the action starts, so the same
seed gives the same sequence of actions whatever the timing.

Every record gets a unique id (rid = step * 100000 + n) carried as a column
(staging.soak_event.rid, staging.sales.sale_id, pleo event_id 'soak-<rid>').
The model knows what the promise says of each one:
  once    stored exactly once: a staging row (a good record) or a reject
          (a record written bad on purpose), never both;
  atmost  a writer destroyed it before sluice may have read it (deleted
          before it was loaded, truncated away or rewritten before it was
          read): zero or one time, never twice.
A copy of a file (cp, mv) carries the same rids, so a duplicate that is
stored again shows as "doubled".
"""

import argparse
import collections
import gzip
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import traceback

WRITERS = ['inplace', 'pleo', 'rename', 'csv', 'log', 'gzip', 'rotate', 'cp-loaded', 'cp-loading',
           'mv-back', 'delete', 'truncate', 'same-size', 'slow-json', 'rotate-midline', 'reload', 'cdc']
FAULTS = ['kill', 'pg-crash', 'disk-full', 'stop', 'second-daemon']
WEIGHTS = {
    'inplace': 10, 'pleo': 5, 'rename': 8, 'csv': 6, 'log': 5, 'gzip': 3, 'rotate': 6,
    'cp-loaded': 4, 'cp-loading': 2, 'mv-back': 3, 'delete': 4, 'truncate': 3, 'same-size': 3,
    'slow-json': 2, 'rotate-midline': 2, 'reload': 2, 'cdc': 4,
    'kill': 2.5, 'pg-crash': 1, 'disk-full': 1, 'stop': 2, 'second-daemon': 1.5,
}
RID_SPAN = 100000          # rids of step s are s*RID_SPAN + 1 ..
SAME_SIZE_SHIFT = 50000    # rewritten records of same-size: rid + this (same width)
MAX_TASKS = 6              # actions running at once
QUIET_EVERY = (60, 120)    # steps between quiet points
STEP_GAP = 0.45            # mean pause between steps, seconds
LOADED_WAIT = 20.0         # how long a writer waits to see its file loaded

TABLE_OF_FEED = {'soak_log': 'soak_event', 'sales': 'sales',
                 'pleo_users': 'pleo_user', 'pleo_cards': 'pleo_card'}
RID_OF_TABLE = {
    'soak_event': 'rid',
    'sales': 'sale_id',
    'pleo_user': "substring(event_id from '^soak-([0-9]+)$')::bigint",
    'pleo_card': "substring(event_id from '^soak-([0-9]+)$')::bigint",
}
RID_OF_REJECT = ("coalesce(substring(raw from '\"rid\": ?([0-9]+)'), "
                 "substring(raw from '\"event_id\": ?\"soak-([0-9]+)\"'), "
                 "substring(raw from '^([0-9]+),'), '')")

# Every report of the packs in use against its full recompute from staging
# (as tests/sql/test_pleo_incremental.sql and test_sales_incremental.sql do).
REPORT_CHECKS = [
    ('core.pleo_user', 'select * from core.pleo_user', 'select * from core.pleo_user_full()'),
    ('core.pleo_card', 'select * from core.pleo_card', 'select * from core.pleo_card_full()'),
    ('core.pleo_card_history',
     'select card_id, valid_from, valid_to, user_id, active, created_by_name, created_at, event_at, '
     'event_id, _file_id, _record, events from core.pleo_card_history',
     'select * from core.pleo_card_history_full()'),
    ('reports.pleo_cards_per_user', 'select * from reports.pleo_cards_per_user',
     'select * from reports.pleo_cards_per_user_full()'),
    ('core.sales_dim_product',
     'select product_id, product_name, brand, category, valid_from, valid_to from core.sales_dim_product',
     'select * from core.sales_dim_product_full()'),
    ('core.sales_dim_retailer',
     'select retailer_id, retailer_name, channel, location, valid_from, valid_to from core.sales_dim_retailer',
     'select * from core.sales_dim_retailer_full()'),
    ('core.sales_fact',
     'select f.sale_id, d.date as sale_date, p.product_id, p.valid_from as product_valid_from, '
     'r.retailer_id, r.valid_from as retailer_valid_from, f.quantity, f.amount '
     'from core.sales_fact f join core.dim_date d on d.date_key = f.date_key '
     'join core.sales_dim_product p on p.product_key = f.product_key '
     'join core.sales_dim_retailer r on r.retailer_key = f.retailer_key',
     'select * from core.sales_fact_full()'),
    ('reports.sales_monthly', 'select * from reports.sales_monthly', 'select * from reports.sales_monthly_full()'),
    ('reports.sales_data_quality', 'select * from reports.sales_data_quality',
     'select * from reports.sales_data_quality_full()'),
    ('core.sales_product_days',
     'select a.product_id, a.product_name, a.brand, a.category, d.sale_date, d.sales::bigint '
     'from core.sales_product_days d join core.sales_product_attributes a '
     'on a.product_id = d.product_id and a.attributes = d.attributes',
     'select product_id, product_name, brand, category, sale_date, count(*) '
     'from core.sales_latest_rows() where product_id is not null group by 1, 2, 3, 4, 5'),
    ('core.sales_retailer_days',
     'select a.retailer_id, a.retailer_name, a.channel, a.location, d.sale_date, d.sales::bigint '
     'from core.sales_retailer_days d join core.sales_retailer_attributes a '
     'on a.retailer_id = d.retailer_id and a.attributes = d.attributes',
     'select retailer_id, retailer_name, channel, location, sale_date, count(*) '
     'from core.sales_latest_rows() group by 1, 2, 3, 4, 5'),
]

# The replicated source (writer `cdc`): database soak_source of the same
# cluster, so that pg-crash crashes the source and the warehouse at once.
# acct has a primary key (its key changes too); hist has none (REPLICA
# IDENTITY FULL), holds exact copies of its rows at times, and is truncated at
# times; txlog gets one row per source transaction, in that transaction, with
# how many change-log rows it must make (a keyless update is two: its old row
# and its new one). The source's txlog is the truth of what committed, also
# through crashes that cut a writer's session.
CDC_SOURCE = 'soakdb'
CDC_TABLES = ('acct', 'hist', 'txlog')
CDC_SETUP = r"""
create table acct (id bigint primary key, step int not null, v int not null, note text);
create table hist (step int, tx int, n int, note text);
alter table hist replica identity full;
create table txlog (step int, tx int, changes int not null, primary key (step, tx));
create publication soak_pub for table acct, hist, txlog;
-- One source transaction of the cdc writer: random changes, counted.
create function soak_tx(p_step int, p_tx int, p_seed float8) returns int language plpgsql as $f$
declare
  changes int := 0;
  n int;
  r float8;
  base bigint := p_step::bigint * 100000 + p_tx * 1000;
begin
  perform setseed(p_seed);
  r := random();
  if r < 0.01 then
    truncate hist;
    changes := 1;
  elsif r < 0.03 then
    -- larger than a batch (4 MB): committed in more than one
    insert into hist select p_step, p_tx, g, repeat(md5(g::text), 20) from generate_series(1, 8000) g;
    changes := 8000;
  else
    for i in 1 .. 1 + floor(random() * 8)::int loop
      r := random();
      if r < 0.30 then
        insert into acct values (base + i, p_step, 0, md5(random()::text));
        n := 1;
      elsif r < 0.50 then
        update acct set v = v + 1, note = md5(random()::text)
         where id = (select id from acct offset floor(random() * 50)::int limit 1);
        get diagnostics n = row_count;
      elsif r < 0.57 then
        update acct set id = base + 500 + i
         where id = (select id from acct offset floor(random() * 50)::int limit 1);
        get diagnostics n = row_count;
      elsif r < 0.65 then
        delete from acct where id = (select id from acct offset floor(random() * 50)::int limit 1);
        get diagnostics n = row_count;
      elsif r < 0.82 then
        insert into hist values (p_step, p_tx, i, md5(random()::text));
        n := 1;
      elsif r < 0.86 then
        insert into hist select * from hist offset floor(random() * 50)::int limit 1;
        get diagnostics n = row_count;
      elsif r < 0.94 then
        update hist set note = md5(random()::text)
         where ctid = (select ctid from hist offset floor(random() * 50)::int limit 1);
        get diagnostics n = row_count;
        n := 2 * n;
      else
        delete from hist where ctid = (select ctid from hist offset floor(random() * 50)::int limit 1);
        get diagnostics n = row_count;
      end if;
      changes := changes + n;
    end loop;
  end if;
  insert into txlog values (p_step, p_tx, changes);
  return changes;
end
$f$;
"""

SANITIZER = re.compile(r'ERROR: (AddressSanitizer|LeakSanitizer|ThreadSanitizer)|runtime error:')

WORDS = ('alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike '
         'november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu').split()
PRODUCTS = {
    1: ('Widget', 'Acme', 'Tools'), 2: ('Widget, "XL"', 'Acme', 'Tools'),
    3: ('Gadget\nTwo lines', 'Globex', 'Gadgets'), 4: ('Sprocket', 'Initech', None),
    5: ('Gizmo "Pro", blue', 'Umbrella', 'Gadgets'), 6: ('Doohickey', 'Hooli', 'Misc'),
    7: ('Thing\r\nwith CRLF', 'Acme', 'Misc'), 8: ('Whatsit', None, 'Misc'),
}
RETAILERS = {1: ('Shop One', 'web', 'Oslo'), 2: ('Two, Inc.', 'store', 'Bergen\nWest'),
             3: ('Three', 'store', 'Tromsø'), 4: ('Four "4"', 'web', None)}
SALES_HEADER = 'SaleID,ProductID,ProductName,Brand,Category,RetailerID,RetailerName,Channel,Location,Quantity,Price,Date'


class DbError(Exception):
    pass


class Abort(Exception):
    """The soak failed; the reason has been recorded."""


def fmt_int(n):
    return f'{n:,}'


def csv_field(v):
    if v is None:
        return ''
    v = str(v)
    if any(c in v for c in ',"\r\n'):
        return '"' + v.replace('"', '""') + '"'
    return v


class Rec:
    __slots__ = ('table', 'bad', 'rule', 'step', 'path')

    def __init__(self, table, bad, rule, step, path):
        self.table, self.bad, self.rule, self.step, self.path = table, bad, rule, step, path


class PoolFile:
    """A complete file that no writer changes again: cp and mv take these."""

    def __init__(self, path, done):
        self.path = path
        self.done = done          # threading.Event: its writer finished
        self.users = []           # Events of actions that read it


class Daemon:
    def __init__(self, soak, name):
        self.soak = soak
        self.name = name
        self.proc = None
        self.lock = threading.RLock()
        self.starts = 0
        self.logs = []
        self.unexpected = None

    def start(self):
        with self.lock:
            self.starts += 1
            log = os.path.join(self.soak.work, 'logs', f'{self.name}-{self.starts}.log')
            with open(log, 'wb') as f:
                self.proc = subprocess.Popen(
                    [self.soak.sluice, 'run', '--dsn', self.soak.dsn, '--inbox', self.soak.inbox,
                     '--settle-ms', '200'],
                    stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
            self.logs.append(log)
            with open(os.path.join(self.soak.work, 'daemon.pids'), 'a') as f:
                f.write(f'{self.proc.pid}\n')
            return self.proc.pid

    def pid(self):
        p = self.proc
        return p.pid if p is not None and p.poll() is None else None

    def check(self):
        """Records an exit we did not cause."""
        with self.lock:
            p = self.proc
            if p is not None and p.poll() is not None:
                self.unexpected = f'{self.name} daemon (pid {p.pid}) exited by itself with status {p.returncode}'
                self.proc = None
            return self.unexpected

    def kill9(self):
        with self.lock:
            self.check()
            p = self.proc
            if p is None:
                return None
            p.send_signal(signal.SIGKILL)
            p.wait(60)
            self.proc = None
            return p.pid

    def terminate(self, timeout=30):
        """SIGTERM (after SIGCONT); returns (pid, status), None if it was not running."""
        with self.lock:
            self.check()
            p = self.proc
            if p is None:
                return None
            try:
                p.send_signal(signal.SIGCONT)
                p.send_signal(signal.SIGTERM)
                status = p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.send_signal(signal.SIGKILL)
                p.wait(60)
                status = f'killed after not stopping within {timeout} s of SIGTERM'
            self.proc = None
            return p.pid, status


class Task:
    def __init__(self, soak, step, action, seed):
        self.soak = soak
        self.step = step
        self.action = action
        self.rng = random.Random(seed)
        self.done = threading.Event()
        self.next_rid = 0
        self.run = None           # set by the planner
        self.thread = None

    def rid(self):
        self.next_rid += 1
        assert self.next_rid < SAME_SIZE_SHIFT
        return self.step * RID_SPAN + self.next_rid

    def note(self, detail):
        self.soak.event(self.step, self.action, detail)

    def sub_rng(self):
        return random.Random(self.rng.getrandbits(64))


class Soak:
    def __init__(self, a):
        self.a = a
        self.work = a.work
        self.inbox = os.path.join(a.work, 'inbox')
        self.outside = os.path.join(a.work, 'outside')
        self.dsn = a.dsn
        self.sluice = a.sluice
        self.seed = a.seed
        self.rng = random.Random(a.seed)
        self.writers = self.parse_list(a.writers, WRITERS, 'writers')
        self.faults = self.parse_list(a.faults, FAULTS, 'faults')
        self.lock = threading.Lock()
        self.recs = {}
        self.files = set()
        self.pool = []
        self.sched = []
        self.t0 = time.monotonic()
        self.tasks = []
        self.errors = []
        self.fault_counts = collections.Counter()
        self.held = collections.defaultdict(list)   # daemon pid -> rids of deleted files it held open
        self.pg_lock = threading.Lock()
        self.second_lock = threading.Lock()
        self.primary = Daemon(self, 'sluice')
        self.second = Daemon(self, 'second')
        self.disk = None
        self.small_tables = ['staging.soak_event', 'staging.sales', 'staging.pleo_card', 'sluice.rejects',
                             'sluice.files']
        self.quiet_points = 0
        self.last_check = None
        self.env = dict(os.environ, PGCONNECT_TIMEOUT='5')
        self.cdc = 'cdc' in self.writers
        self.src_dsn = re.sub(r'dbname=\S+', 'dbname=soak_source', self.dsn)
        self.cdc_markers = 0
        self.cdc_last = None      # (transactions, change rows) at the last check

    @staticmethod
    def parse_list(text, known, what):
        if text == 'all':
            return list(known)
        items = [x.strip() for x in text.split(',') if x.strip()]
        for x in items:
            if x not in known:
                sys.exit(f'error: unknown {what[:-1]} {x!r}; known: {", ".join(known)}')
        return [x for x in known if x in items]

    # ---------------------------------------------------------------- plumbing

    def now(self):
        return time.monotonic() - self.t0

    def event(self, step, action, detail):
        with self.lock:
            self.sched.append((self.now(), step, action, detail))

    def say(self, text):
        print(f'[{self.now():7.1f}s] {text}', flush=True)

    def psql(self, sql, timeout=120, dsn=None):
        try:
            r = subprocess.run(['psql', '-X', '-q', '-A', '-t', '-F', '\t', '-v', 'ON_ERROR_STOP=1',
                                '-d', dsn or self.dsn, '-c', sql],
                               capture_output=True, text=True, timeout=timeout, env=self.env)
        except subprocess.TimeoutExpired:
            raise DbError(f'psql timed out after {timeout} s')
        if r.returncode != 0:
            raise DbError(r.stderr.strip() or f'psql exited {r.returncode}')
        return [line.split('\t') for line in r.stdout.splitlines() if line != '']

    def psql_retry(self, sql, within=120, dsn=None):
        deadline = time.monotonic() + within
        while True:
            try:
                return self.psql(sql, dsn=dsn)
            except DbError as e:
                if time.monotonic() > deadline:
                    raise
                last = e
                time.sleep(0.5)

    def abs(self, rel):
        return os.path.join(self.inbox, rel)

    def add_recs(self, recs, rule, step, path):
        """recs: [(rid, table, bad)] now complete in `path`."""
        with self.lock:
            for rid, table, bad in recs:
                assert rid not in self.recs, rid
                self.recs[rid] = Rec(table, bad, rule, step, path)
            self.files.add(path)

    def set_rule(self, rids, rule):
        with self.lock:
            for rid in rids:
                self.recs[rid].rule = rule

    def add_file(self, path):
        with self.lock:
            self.files.add(path)

    def ledger_state(self, path):
        rows = self.psql("select state, bytes_done from sluice.files where path = '%s' order by id desc limit 1"
                         % path.replace("'", "''"), timeout=30)
        return (rows[0][0], int(rows[0][1])) if rows else (None, 0)

    def wait_loaded(self, path, size=None, within=LOADED_WAIT):
        """True once the ledger shows `path` loaded (to `size` bytes when given)."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            try:
                state, done = self.ledger_state(path)
                if state == 'duplicate' or (state == 'loaded' and (size is None or done == size)):
                    return True
            except DbError:
                pass
            time.sleep(0.25)
        return False

    def holders(self, abspath):
        """Pids of the daemons that hold `abspath` open."""
        try:
            st = os.stat(abspath)
        except FileNotFoundError:
            return []
        found = []
        for d in (self.primary, self.second):
            pid = d.pid()
            if pid is None:
                continue
            try:
                for fd in os.listdir(f'/proc/{pid}/fd'):
                    try:
                        s = os.stat(f'/proc/{pid}/fd/{fd}')
                    except OSError:
                        continue
                    if (s.st_dev, s.st_ino) == (st.st_dev, st.st_ino):
                        found.append(pid)
                        break
            except OSError:
                pass
        return found

    def daemon_killed(self, pid, why):
        """A daemon that held deleted files open died: what only it could still read may be gone."""
        with self.lock:
            rids = self.held.pop(pid, [])
            for rid in rids:
                self.recs[rid].rule = 'atmost'
        if rids:
            self.event(0, why, f'pid {pid} held deleted files open: {len(rids)} records now at most once')

    # ---------------------------------------------------------------- content

    @staticmethod
    def body(rng):
        return ' '.join(rng.choice(WORDS) for _ in range(rng.randint(1, 12)))

    def ev_line(self, t, rng, writer, p_bad=0.04):
        """One NDJSON record: (rid, bad, bytes)."""
        rid = t.rid()
        at = '2026-12-05T%02d:%02d:%02d.%03dZ' % (rng.randint(0, 23), rng.randint(0, 59),
                                                  rng.randint(0, 59), rng.randint(0, 999))
        r = rng.random()
        if r < p_bad * 0.75:
            line = json.dumps({'rid': rid, 'writer': writer, 'at': 'not-a-time', 'body': self.body(rng)})
            return rid, True, line.encode() + b'\n'
        if r < p_bad:
            return rid, True, ('{"rid": %d, "writer": "%s", "at": broken' % (rid, writer)).encode() + b'\n'
        line = json.dumps({'rid': rid, 'writer': writer, 'at': at, 'body': self.body(rng)})
        return rid, False, line.encode() + b'\n'

    def ndjson(self, t, rng, n, writer, p_bad=0.04):
        recs, parts = [], []
        for _ in range(n):
            rid, bad, line = self.ev_line(t, rng, writer, p_bad)
            recs.append((rid, 'soak_event', bad))
            parts.append(line)
        return recs, b''.join(parts)

    def sales_csv(self, t, rng, n, p_bad=0.05):
        nl = '\r\n' if rng.random() < 0.3 else '\n'
        lines, recs = [SALES_HEADER], []
        for _ in range(n):
            rid = t.rid()
            pid = rng.randint(1, len(PRODUCTS))
            name, brand, cat = PRODUCTS[pid]
            if rng.random() < 0.1:
                name = name + ' v2'
            ret = rng.randint(1, len(RETAILERS))
            rname, chan, loc = RETAILERS[ret]
            qty = rng.choice([1, 1, 2, 3, 5, -1])
            price = '%.2f' % (qty * rng.randint(100, 5000) / 100)
            date = '2024-%02d-%02d' % (rng.randint(1, 12), rng.randint(1, 28))
            bad = rng.random() < p_bad
            if bad:
                if rng.random() < 0.5:
                    price = '100USD'
                else:
                    date = '2024-13-45'
            fields = [rid, pid if rng.random() > 0.05 else '', name, brand, cat, ret, rname, chan, loc,
                      qty, price, date]
            lines.append(','.join(csv_field(f) for f in fields))
            recs.append((rid, 'sales', bad))
        return recs, (nl.join(lines) + nl).encode()

    def pleo_doc(self, t, rng, kind, p_bad=0.06):
        rid = t.rid()
        ts = lambda: '2026-11-%02d %02d:%02d:%02d' % (rng.randint(1, 30), rng.randint(0, 23),
                                                     rng.randint(0, 59), rng.randint(0, 59))
        meta = {'type': kind, 'event_at': ts(), 'event_id': f'soak-{rid}'}
        bad = False
        if kind == 'user':
            payload = {'id': rng.randint(1, 150), 'name': rng.choice(WORDS).title(),
                       'address': '%d %s Street\n%s' % (rng.randint(1, 99), rng.choice(WORDS).title(),
                                                        rng.choice(WORDS).title()),
                       'job': rng.choice(WORDS), 'score': round(rng.random(), 2)}
            table = 'pleo_user'
        else:
            payload = {'id': rng.randint(1, 300), 'user_id': rng.randint(1, 170),
                       'created_by_name': rng.choice(WORDS).title(), 'updated_at': ts(),
                       'created_at': ts(), 'active': rng.random() < 0.7}
            if rng.random() < p_bad:
                del payload['user_id']
                bad = True
            table = 'pleo_card'
        doc = {'metadata': meta, 'payload': payload} if rng.random() < 0.5 else {'payload': payload, 'metadata': meta}
        return (rid, table, bad), (json.dumps(doc, indent=2) + '\n').encode()

    # ---------------------------------------------------------------- writing

    def pause(self, rng, long_p=0.05):
        if rng.random() < long_p:
            return rng.uniform(0.25, 0.6)
        return rng.uniform(0, 0.04)

    def write_all(self, fd, data):
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]

    def write_pieces(self, abspath, data, rng, flags=os.O_WRONLY | os.O_CREAT | os.O_TRUNC, pieces=None,
                     long_p=0.05):
        """Open, write in 1..n pieces with pauses, close: a service's write, or cp's."""
        fd = os.open(abspath, flags, 0o644)
        try:
            n = pieces or rng.randint(1, 4)
            cuts = sorted(rng.sample(range(1, len(data)), min(n - 1, max(0, len(data) - 1)))) if len(data) > 1 else []
            last = 0
            for c in cuts + [len(data)]:
                self.write_all(fd, data[last:c])
                last = c
                if c != len(data):
                    time.sleep(self.pause(rng, long_p))
        finally:
            os.close(fd)

    def write_via_rename(self, t, rng, rel, data):
        """Written elsewhere (outside the inbox, or as a name sluice ignores) and renamed in."""
        where = rng.choice(['outside', 'part', 'tmp', 'dot'])
        d, base = os.path.split(rel)
        if where == 'outside':
            tmp = os.path.join(self.outside, f'{t.step}-{base}')
        elif where == 'part':
            tmp = self.abs(os.path.join(d, base + '.part'))
        elif where == 'tmp':
            tmp = self.abs(os.path.join(d, base + '.tmp'))
        else:
            tmp = self.abs(os.path.join(d, '.' + base))
        self.write_pieces(tmp, data, rng)
        os.rename(tmp, self.abs(rel))
        return where

    def pool_add(self, path, t):
        pf = PoolFile(path, t.done)
        self.pool.append(pf)

    # ---------------------------------------------------------------- writers
    # plan_<writer>(t): runs in the master thread (decides names, uses only
    # t.rng and self.rng); returns (detail, run) where run() is the action.

    def plan_inplace(self, t):
        rng = t.rng
        if rng.random() < 0.35:
            k = rng.randint(5, 40)
            paths = [f'soak/logs/ev-{t.step}-{i}.ndjson' for i in range(k)]
            self.pool_add(paths[0], t)
            rate = rng.uniform(20, 60)

            def run():
                for p in paths:
                    recs, data = self.ndjson(t, rng, 1, 'inplace')
                    self.write_pieces(self.abs(p), data, rng, pieces=rng.randint(1, 2))
                    self.add_recs(recs, 'once', t.step, p)
                    time.sleep(rng.expovariate(rate))
            return f'{k} one-event files soak/logs/ev-{t.step}-*.ndjson at {rate:.0f}/s', run
        path = f'soak/logs/ev-{t.step}.' + rng.choice(['ndjson', 'log'])
        self.pool_add(path, t)

        def run():
            recs, data = self.ndjson(t, rng, rng.randint(1, 300), 'inplace')
            self.write_pieces(self.abs(path), data, rng)
            self.add_recs(recs, 'once', t.step, path)
        return path, run

    def plan_pleo(self, t):
        """Pleo's users and cards services: one pretty-printed JSON file per event, written in
        place, both at once (10-30 files a second each)."""
        rng = t.rng
        rate, n, base, rngs = {}, {}, {}, {}
        for kind in ('user', 'card'):
            rate[kind] = rng.uniform(10, 30)
            n[kind] = int(rate[kind] * rng.uniform(1.5, 5))
        base['user'] = t.step * RID_SPAN
        base['card'] = base['user'] + n['user']
        self.pool_add(f'pleo/users/soak-{base["user"] + 1}.json', t)
        self.pool_add(f'pleo/cards/soak-{base["card"] + 1}.json', t)
        for kind in ('user', 'card'):
            rngs[kind] = t.sub_rng()

        def run():
            threads = []
            for kind in ('user', 'card'):
                th = threading.Thread(target=self._pleo_service,
                                      args=(t, _RidView(base[kind]), kind, rngs[kind], rate[kind], n[kind]),
                                      daemon=True)
                th.start()
                threads.append(th)
            for th in threads:
                th.join(120)
        return (f'{n["user"]} users at {rate["user"]:.0f}/s + {n["card"]} cards at {rate["card"]:.0f}/s, '
                f'pleo/{{users,cards}}/soak-*.json'), run

    def _pleo_service(self, t, view, kind, r, rate, n):
        folder = 'users' if kind == 'user' else 'cards'
        try:
            for _ in range(n):
                rec, data = self.pleo_doc(view, r, kind)
                p = f'pleo/{folder}/soak-{rec[0]}.json'
                self.write_pieces(self.abs(p), data, r, long_p=0)
                self.add_recs([rec], 'once', t.step, p)
                time.sleep(r.expovariate(rate))
        except Exception:
            self.errors.append(f'step {t.step} pleo {kind}: {traceback.format_exc()}')

    def make_file(self, t, rng, kind):
        """(recs, data, ext-less folder path prefix, ext) of a complete file of `kind`."""
        if kind == 'ndjson':
            recs, data = self.ndjson(t, rng, rng.randint(1, 400), 'rename')
            return recs, data, 'soak/logs', 'ndjson'
        if kind == 'ndjson.gz':
            recs, data = self.ndjson(t, rng, rng.randint(1, 400), 'rename')
            return recs, gzip.compress(data, mtime=0), 'soak/logs', 'ndjson.gz'
        if kind == 'csv':
            recs, data = self.sales_csv(t, rng, rng.randint(1, 400))
            return recs, data, 'sales', 'csv'
        if kind == 'csv.gz':
            recs, data = self.sales_csv(t, rng, rng.randint(1, 400))
            return recs, gzip.compress(data, mtime=0), 'sales', 'csv.gz'
        rec, data = self.pleo_doc(t, rng, kind)
        return [rec], data, 'pleo/users' if kind == 'user' else 'pleo/cards', 'json'

    def plan_rename(self, t):
        rng = t.rng
        kind = rng.choice(['ndjson', 'ndjson.gz', 'csv', 'csv.gz', 'user', 'card'])
        folder = {'ndjson': 'soak/logs', 'ndjson.gz': 'soak/logs', 'csv': 'sales', 'csv.gz': 'sales',
                  'user': 'pleo/users', 'card': 'pleo/cards'}[kind]
        ext = {'user': 'json', 'card': 'json'}.get(kind, kind)
        path = f'{folder}/rn-{t.step}.{ext}'
        self.pool_add(path, t)

        def run():
            recs, data, _, _ = self.make_file(t, rng, kind)
            where = self.write_via_rename(t, rng, path, data)
            self.add_recs(recs, 'once', t.step, path)
            t.note(f'{path} written as {where}, renamed in')
        return path, run

    def plan_csv(self, t):
        rng = t.rng
        gz = rng.random() < 0.25
        path = f'sales/ex-{t.step}.csv' + ('.gz' if gz else '')
        self.pool_add(path, t)

        def run():
            recs, data = self.sales_csv(t, rng, rng.randint(5, 1500))
            if gz:
                data = gzip.compress(data, mtime=0)
            self.write_pieces(self.abs(path), data, rng, pieces=rng.randint(1, 6))
            self.add_recs(recs, 'once', t.step, path)
        return path, run

    def plan_slow_json(self, t):
        """Pretty-printed JSON events written in place by a slow service: it pauses longer than
        --settle-ms inside the document before it writes the rest and closes the file."""
        rng = t.rng
        k = rng.randint(2, 6)

        def run():
            for _ in range(k):
                kind = rng.choice(['user', 'card'])
                rec, data = self.pleo_doc(t, rng, kind)
                p = f'pleo/{"users" if kind == "user" else "cards"}/soak-{rec[0]}.json'
                cut = rng.randint(1, len(data) - 1)
                pause = rng.uniform(0.3, 0.8)
                fd = os.open(self.abs(p), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                try:
                    self.write_all(fd, data[:cut])
                    time.sleep(pause)
                    self.write_all(fd, data[cut:])
                finally:
                    os.close(fd)
                self.add_recs([rec], 'once', t.step, p)
                t.note(f'{p}: paused {pause:.1f} s after {cut} of {len(data)} bytes')
        return f'{k} pleo events written with a pause inside the document', run

    def plan_cp_loaded(self, t):
        if not self.pool:
            return self.plan_inplace(t)
        src = self.rng.choice(self.pool)
        src.users.append(t.done)
        d, base = os.path.split(src.path)
        dst = f'{d}/copy-{t.step}-{base}'

        def run():
            src.done.wait(120)
            loaded = self.wait_loaded(src.path)
            subprocess.run(['cp', self.abs(src.path), self.abs(dst)], check=True)
            self.add_file(dst)
            t.note(f'cp {src.path} {dst} (source {"loaded" if loaded else "NOT seen loaded"})')
        return f'cp {src.path} {dst}', run

    def plan_cp_loading(self, t):
        rng = t.rng
        csv_kind = rng.random() < 0.3
        path = f'sales/big-{t.step}.csv' if csv_kind else f'soak/logs/big-{t.step}.ndjson'
        d, base = os.path.split(path)
        dst = f'{d}/copy-{t.step}-{base}'

        def run():
            if csv_kind:
                recs, data = self.sales_csv(t, rng, rng.randint(5000, 15000))
            else:
                recs, data = self.ndjson(t, rng, rng.randint(8000, 25000), 'big')
            tmp = os.path.join(self.outside, f'{t.step}-{base}')
            with open(tmp, 'wb') as f:
                f.write(data)
            os.rename(tmp, self.abs(path))
            self.add_recs(recs, 'once', t.step, path)
            time.sleep(rng.uniform(0, 0.3))
            try:
                state = self.ledger_state(path)[0]
            except DbError:
                state = '?'
            subprocess.run(['cp', self.abs(path), self.abs(dst)], check=True)
            self.add_file(dst)
            t.note(f'cp {path} {dst} ({len(data)} bytes; ledger state when copied: {state})')
        return f'{path}, then cp to {dst}', run

    def plan_mv_back(self, t):
        rng = t.rng
        if not self.pool:
            return self.plan_rename(t)
        src = self.rng.choice(self.pool)
        self.pool.remove(src)
        d, base = os.path.split(src.path)
        same = rng.random() < 0.5
        back = src.path if same else f'{d}/mv-{t.step}-{base}'

        def run():
            src.done.wait(120)
            for u in src.users:
                u.wait(120)
            loaded = self.wait_loaded(src.path)
            out = os.path.join(self.outside, f'mv-{t.step}-{base}')
            subprocess.run(['mv', self.abs(src.path), out], check=True)
            time.sleep(rng.uniform(0.2, 3))
            subprocess.run(['mv', out, self.abs(back)], check=True)
            self.add_file(back)
            t.note(f'mv {src.path} out and back as {back} (source {"loaded" if loaded else "NOT seen loaded"})')
        return f'mv {src.path} out, back as {back}', run

    def plan_reload(self, t):
        """`sluice reload` of a loaded file (an operator putting a feed right) beside the daemon: its
        records are still exactly once. Sometimes killed -9 mid-reload, then run again (it goes on
        with the reload begun)."""
        rng = t.rng
        if not self.pool:
            return self.plan_inplace(t)
        src = self.rng.choice(self.pool)
        self.pool.remove(src)
        kill_after = rng.uniform(0.02, 0.3) if rng.random() < 0.4 else None

        def run():
            src.done.wait(120)
            for u in src.users:
                u.wait(120)
            if not self.wait_loaded(src.path):
                t.note(f'{src.path} not seen loaded: not reloaded')
                return
            cmd = [self.sluice, 'reload', src.path, '--inbox', self.inbox, '--dsn', self.dsn,
                   '--give-up-after-s', '120']
            log = os.path.join(self.work, 'logs', f'reload-{t.step}.log')
            killed = ''
            with open(log, 'ab') as f:
                if kill_after is not None:
                    p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
                    time.sleep(kill_after)
                    if p.poll() is None:
                        p.kill()
                        killed = f'killed -9 after {kill_after:.2f} s, then '
                    p.wait(60)
            # The warehouse crashing or its disk filling (the faults) fails a
            # reload as it fails any client; the operator runs it again, and it
            # goes on with the reload begun. Any other failure is the soak's.
            retried = 0
            while True:
                start = os.path.getsize(log)
                with open(log, 'ab') as f:
                    r = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=400)
                with open(log, 'rb') as f:
                    f.seek(start)
                    attempt = f.read().decode('utf-8', 'replace')
                if r.returncode == 0 or retried >= 5 or not re.search(
                        r'server closed the connection|cannot connect|could not connect|terminating connection'
                        r'|the database system is|No space left on device', attempt):
                    break
                retried += 1
                time.sleep(2)
            with open(log, 'rb') as f:
                said = f.read().decode('utf-8', 'replace')
            last = next((l for l in reversed(said.splitlines()) if ' [sluice] ' in l), said.strip()[-200:])
            resumed = 'resumed the reload begun before; ' if 'was begun before: loading it' in said else ''
            again = f'run again {retried} time(s) after the warehouse went away, ' if retried else ''
            t.note(f'sluice reload {src.path}: {killed}{resumed}{again}exit {r.returncode}: {last[-200:]}')
            if r.returncode != 0:
                self.errors.append(f'step {t.step}: sluice reload {src.path} exited {r.returncode}: {last[:300]}')
        return f'sluice reload {src.path}{" (killed -9 mid-way, then again)" if kill_after is not None else ""}', run

    # Growing logs --------------------------------------------------------------

    class LogWriter:
        def __init__(self, soak, t, rng, path, writer, slow):
            self.s, self.t, self.rng, self.writer = soak, t, rng, writer
            self.slow = slow            # pauses longer than --settle-ms also inside a line
            self.path = path            # the name the writer opens
            self.cur = path             # where the open file is now (after a rename)
            self.fd = os.open(soak.abs(path), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            self.pending = b''
            self.marks = []             # (rid, bad, end offset in pending)
            self.rate = rng.uniform(5, 150)
            self.midline = False        # rotations happen inside a line
            self.inode_rids = []        # rids of the records in the open file's current content
            self.relaxed = False        # its records are at most once (see Soak.rotate)
            self.truncated_at = None    # wall time of the open file's last copytruncate

        def add(self, n):
            for _ in range(n):
                rid, bad, line = self.s.ev_line(self.t, self.rng, self.writer, 0.03)
                self.pending += line
                self.marks.append((rid, bad, len(self.pending)))

        def write(self, upto):
            self.s.write_all(self.fd, self.pending[:upto])
            done = [m for m in self.marks if m[2] <= upto]
            self.marks = [(r, b, e - upto) for r, b, e in self.marks if e > upto]
            self.pending = self.pending[upto:]
            if done:
                self.s.add_recs([(r, 'soak_event', b) for r, b, _ in done], 'atmost' if self.relaxed else 'once',
                                self.t.step, self.cur)
                self.inode_rids.extend(r for r, _, _ in done)

        def tick(self):
            """Some new lines, and a write that often ends inside a line."""
            dt = 0.02 + self.rng.expovariate(8)
            if self.rng.random() < 0.04:
                dt = self.rng.uniform(0.25, 1.0)    # a long pause, with a partial last line if slow
                if not self.slow:
                    self.flush()
            time.sleep(dt)
            self.add(max(0, int(self.rate * dt + self.rng.random())))
            if self.pending:
                cut = len(self.pending) if self.rng.random() < 0.3 else self.rng.randint(1, len(self.pending))
                self.write(cut)

        def flush(self):
            if self.pending:
                self.write(len(self.pending))

        def reopen(self):
            self.flush()
            os.close(self.fd)
            self.fd = os.open(self.s.abs(self.path), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            self.cur = self.path
            self.inode_rids = []
            self.relaxed = False
            self.truncated_at = None

        def close(self):
            self.flush()
            os.close(self.fd)

    def plan_log(self, t):
        rng = t.rng
        path = f'soak/logs/app-{t.step}.log'

        def run():
            lw = self.LogWriter(self, t, rng, path, 'log', slow=True)
            end = time.monotonic() + rng.uniform(2, 12)
            while time.monotonic() < end:
                lw.tick()
            lw.close()
        return path, run

    def plan_rotate(self, t, midline=False):
        """A growing log rotated 1-3 times, logrotate's styles: rename (and the writer reopens
        after a while), create (logrotate creates the new file at once), copytruncate; the
        rotated name inside the glob (dateext with extension: rot-S-20261205.log, extension:
        rot-S.1.log) or outside (rot-S.log.1, rot-S.log-20261205). Rotations happen between
        lines (rotate-midline: renamed while the writer is inside a line, which it completes in
        the rotated file after a pause, and goes on writing it in pieces that end inside
        lines; with rotate, the writer writes only whole lines to the rotated file)."""
        rng = t.rng
        path = f'soak/logs/rot-{t.step}.log'
        stem = path[:-len('.log')]
        duration = rng.uniform(4, 15)
        rotations = sorted(rng.uniform(0.15, 0.85) * duration for _ in range(rng.randint(1, 3)))
        plan = []
        for i, _ in enumerate(rotations, 1):
            style = rng.choice(['rename', 'create'] if midline else ['rename', 'create', 'copytruncate'])
            name = rng.choice([f'{path}.{i}', f'{path}-2026120{i + 4}',            # outside the glob
                               f'{stem}-2026120{i + 4}.log', f'{stem}.{i}.log'])   # inside (dateext, extension)
            plan.append((style, name))
        desc = ', '.join(f'{s} -> {os.path.basename(n)}' for s, n in plan)

        def run():
            lw = self.LogWriter(self, t, rng, path, t.action, slow=True)
            lw.midline = midline
            start = time.monotonic()
            todo = list(zip(rotations, plan))
            while time.monotonic() - start < duration:
                if todo and time.monotonic() - start >= todo[0][0]:
                    _, (style, name) = todo.pop(0)
                    self.rotate(t, lw, style, name)
                lw.tick()
            lw.close()
        return f'{path}: {desc}', run

    def plan_rotate_midline(self, t):
        return self.plan_rotate(t, midline=True)

    def ledger_knows(self, lw):
        """Whether the ledger has a row for the log's open file (its inode, under its name) as it
        is now: after a copytruncate, a row first seen since (the row of the content before it
        went on in the copy, or is about that content only)."""
        st = os.fstat(lw.fd)
        since = '' if lw.truncated_at is None else f" and first_seen_at >= to_timestamp({lw.truncated_at:.6f})"
        try:
            return bool(int(self.psql(f"select count(*) from sluice.files where device = {st.st_dev} and "
                                      f"inode = {st.st_ino} and path = '{lw.path}'{since}", timeout=10)[0][0]))
        except DbError:
            return False

    def rotate(self, t, lw, style, name):
        """One logrotate run. The rotated file is followed, or the copy found, only for a file
        sluice has seen: when the ledger has no row for the log's file yet (it was created a
        moment ago, or while the daemon was down, or it was truncated by a copytruncate since the
        last row for it was made) and the new name is outside the feed's glob, the records
        written to it can legitimately never be seen: at most once (README, "Log rotation")."""
        rng = lw.rng
        if lw.midline:
            # Inside a line: part of one written, the rest still to come.
            lw.flush()
            lw.add(1)
            lw.write(rng.randint(1, len(lw.pending) - 1))
        else:
            lw.flush()
        unseen = not name.endswith('.log') and not self.ledger_knows(lw)
        if unseen:
            self.set_rule(lw.inode_rids, 'atmost')
            t.note(f'{lw.path}: no ledger row for its file yet, and {os.path.basename(name)} is outside the glob: '
                   f'its {len(lw.inode_rids)} records so far (and until the writer lets go) at most once')
        if style == 'copytruncate':
            # logrotate copies, then truncates; the writer keeps its O_APPEND
            # descriptor. Done at a line boundary with the writer held, so no
            # line is torn or lost in the window between copy and truncate.
            subprocess.run(['cp', self.abs(lw.path), self.abs(name)], check=True)
            lw.truncated_at = time.time()
            os.truncate(self.abs(lw.path), 0)
            lw.inode_rids = []
            self.add_file(name)
            t.note(f'copytruncate {lw.path} -> {name}')
            return
        os.rename(self.abs(lw.path), self.abs(name))
        lw.cur = name
        lw.relaxed = unseen
        self.add_file(name)
        if style == 'create':
            os.close(os.open(self.abs(lw.path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        t.note(f'{style} {lw.path} -> {name}')
        # The writer goes on writing to the rotated file until it lets go.
        end = time.monotonic() + rng.uniform(0, 1.5)
        if lw.midline:
            pause = rng.uniform(0, 0.8)
            time.sleep(pause)
            t.note(f'{name}: renamed inside a line; the writer completes it after {pause:.1f} s')
        while time.monotonic() < end:
            lw.tick()
            if not lw.midline:
                lw.flush()      # whole lines only into the rotated file
        lw.reopen()

    def plan_gzip(self, t):
        rng = t.rng
        path = f'soak/logs/z-{t.step}.log.gz'

        def run():
            fd = None
            for i in range(rng.randint(2, 8)):
                recs, data = self.ndjson(t, rng, rng.randint(1, 200), 'gzip', 0.03)
                member = gzip.compress(data, mtime=0)
                if fd is None or rng.random() < 0.5:
                    if fd is not None:
                        os.close(fd)
                    fd = os.open(self.abs(path), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
                n = rng.randint(1, 3)
                cuts = sorted(rng.sample(range(1, len(member)), min(n - 1, len(member) - 1)))
                last = 0
                for c in cuts + [len(member)]:
                    self.write_all(fd, member[last:c])
                    last = c
                    if c != len(member):
                        time.sleep(rng.uniform(0, 0.4))
                self.add_recs(recs, 'once', t.step, path)
                time.sleep(rng.uniform(0.1, 1.5))
            os.close(fd)
        return path, run

    # Destroying writers --------------------------------------------------------

    def plan_delete(self, t):
        rng = t.rng
        mode = rng.choice(['before', 'during', 'after'])
        path = f'soak/logs/del-{t.step}.ndjson'

        def run():
            if mode == 'before':
                recs, data = self.ndjson(t, rng, rng.randint(1, 200), 'delete')
                self.write_pieces(self.abs(path), data, rng)
                time.sleep(rng.uniform(0, 0.15))
                os.unlink(self.abs(path))
                self.add_recs(recs, 'atmost', t.step, path)
                t.note(f'{path} deleted right after it was written: its records at most once')
            elif mode == 'during':
                recs, data = self.ndjson(t, rng, rng.randint(4000, 20000), 'delete')
                tmp = os.path.join(self.outside, f'{t.step}-del.ndjson')
                with open(tmp, 'wb') as f:
                    f.write(data)
                os.rename(tmp, self.abs(path))
                # Deleted while sluice reads it: as soon as a daemon holds it
                # open (or after 2 s), plus a moment.
                deadline = time.monotonic() + 2
                while not self.holders(self.abs(path)) and time.monotonic() < deadline:
                    time.sleep(0.01)
                time.sleep(rng.uniform(0, 0.05))
                held = self.holders(self.abs(path))
                try:
                    state = self.ledger_state(path)[0]
                except DbError:
                    state = '?'
                os.unlink(self.abs(path))
                if state == 'loaded':
                    self.add_recs(recs, 'once', t.step, path)
                    t.note(f'{path} deleted after it was loaded')
                elif held:
                    self.add_recs(recs, 'once', t.step, path)
                    with self.lock:
                        self.held[held[0]].extend(r for r, _, _ in recs)
                    t.note(f'{path} deleted while pid {held[0]} held it open (ledger: {state}): '
                           f'its records exactly once (unless that daemon is killed)')
                else:
                    self.add_recs(recs, 'atmost', t.step, path)
                    t.note(f'{path} deleted while no daemon held it open (ledger: {state}): at most once')
            else:
                recs, data = self.ndjson(t, rng, rng.randint(1, 200), 'delete')
                self.write_pieces(self.abs(path), data, rng)
                loaded = self.wait_loaded(path, len(data))
                os.unlink(self.abs(path))
                self.add_recs(recs, 'once' if loaded else 'atmost', t.step, path)
                t.note(f'{path} deleted {"after it was loaded" if loaded else "NOT seen loaded: at most once"}')
        return f'{path} deleted {mode} loading', run

    def plan_truncate(self, t):
        rng = t.rng
        path = f'soak/logs/tr-{t.step}.ndjson'
        wait = rng.random() < 0.6

        def run():
            recs_a, data_a = self.ndjson(t, rng, rng.randint(1, 300), 'truncate')
            self.write_pieces(self.abs(path), data_a, rng)
            if wait:
                loaded = self.wait_loaded(path, len(data_a))
            else:
                time.sleep(rng.uniform(0, 0.3))
                try:
                    st, done = self.ledger_state(path)
                    loaded = st == 'loaded' and done == len(data_a)
                except DbError:
                    loaded = False
            recs_b, data_b = self.ndjson(t, rng, rng.randint(1, 300), 'truncate')
            self.write_pieces(self.abs(path), data_b, rng)     # O_TRUNC
            self.add_recs(recs_a, 'once' if loaded else 'atmost', t.step, path)
            self.add_recs(recs_b, 'once', t.step, path)
            t.note(f'{path} truncated and rewritten ({len(data_a)} -> {len(data_b)} bytes); first content '
                   + ('loaded before' if loaded else 'NOT seen loaded: at most once'))
        return path, run

    def plan_same_size(self, t):
        rng = t.rng
        path = f'soak/logs/ss-{t.step}.ndjson'
        overwrite = rng.random() < 0.5

        def run():
            recs_a, data_a = self.ndjson(t, rng, rng.randint(1, 200), 'samesize')
            self.write_pieces(self.abs(path), data_a, rng)
            loaded = self.wait_loaded(path, len(data_a))
            # The same lines with other rids of the same width: same size, new content.
            data_b = re.sub(rb'"rid": (\d+)', lambda m: b'"rid": %d' % (int(m.group(1)) + SAME_SIZE_SHIFT), data_a)
            assert len(data_b) == len(data_a)
            recs_b = [(r + SAME_SIZE_SHIFT, tb, bad) for r, tb, bad in recs_a]
            if overwrite:
                # Quickly (pauses well under --settle-ms): while it is half
                # written the file holds whole lines of both contents, which
                # no reader can tell from a finished file.
                self.write_pieces(self.abs(path), data_b, rng, flags=os.O_WRONLY, long_p=0)
            else:
                self.write_pieces(self.abs(path), data_b, rng)
            self.add_recs(recs_a, 'once' if loaded else 'atmost', t.step, path)
            self.add_recs(recs_b, 'once', t.step, path)
            t.note(f'{path} rewritten in place with the same size ({len(data_a)} bytes, '
                   f'{"overwritten" if overwrite else "truncated and written"}); first content '
                   + ('loaded before' if loaded else 'NOT seen loaded: at most once'))
        return path, run

    # ---------------------------------------------------------------- faults

    def file_counts_check(self):
        """The ledger's counts by feed and state (sluice.status() shows them; statement triggers
        keep them, two daemons and crashes included) equal a count of sluice.files."""
        rows = self.psql_retry(
            'with kept as (select feed, state, incomplete, sum(files) as n from (select feed, state, incomplete, files '
            '  from sluice.file_counts union all select feed, state, incomplete, files from sluice.file_count_changes) c '
            '  group by feed, state, incomplete having sum(files) <> 0), '
            'counted as (select feed, state, reason is not null as incomplete, count(*) as n from sluice.files '
            '  group by feed, state, reason is not null) '
            'select feed, state, incomplete, k.n, c.n from kept k full join counted c using (feed, state, incomplete) '
            'where k.n is distinct from c.n')
        if not rows:
            return []
        return ['file counts (sluice.file_counts and its changes) differ from sluice.files '
                '(feed, state, incomplete, counted by the triggers, counted now): '
                + '; '.join(' '.join(r) for r in rows[:8])]

    # ---------------------------------------------------------------- change data capture

    def setup_cdc(self):
        """The source database, its tables and publication, and the source in sluice.sources.
        Before the daemon starts: its first run copies the (empty) tables and streams from there."""
        if not self.cdc:
            return
        # A commit the warehouse acknowledged must outlive a crash (the
        # throwaway cluster commits asynchronously): sluice confirms the slot
        # of the source up to what the warehouse committed.
        self.psql("alter system set synchronous_commit = on")
        self.psql("select pg_reload_conf()")
        self.psql('create database soak_source')
        self.psql(CDC_SETUP, dsn=self.src_dsn)
        # Half the seeds replicate acct under REPLICA IDENTITY FULL: keyed by
        # the source's primary key all the same, its updates and deletes
        # carrying the whole old row.
        if self.seed % 2:
            self.psql('alter table acct replica identity full', dsn=self.src_dsn)
        self.psql(f"insert into sluice.sources (name, conninfo, publication, slot_name) "
                  f"values ('{CDC_SOURCE}', '{self.src_dsn}', 'soak_pub', 'sluice_{CDC_SOURCE}')")

    def wait_cdc_streaming(self, within=120):
        if not self.cdc:
            return
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            self.check_daemons()
            rows = self.psql(f"select state, coalesce(last_error, '') from sluice.sources where name = '{CDC_SOURCE}'")
            if rows and rows[0][0] == 'streaming':
                self.say(f'cdc: source {CDC_SOURCE} streams (soak_source: acct, replica identity '
                         f'{"full" if self.seed % 2 else "default"}; hist; txlog)')
                return
            time.sleep(0.25)
        self.fail(f'cdc: source {CDC_SOURCE} not streaming after {within} s: {rows}')

    def plan_cdc(self, t):
        n = t.rng.randint(1, 12)
        seeds = [t.rng.uniform(-1, 1) for _ in range(n)]
        pauses = [t.rng.choice((0, 0, t.rng.uniform(0, 0.3))) for _ in range(n)]

        def run():
            made, failed = 0, 0
            for i in range(n):
                time.sleep(pauses[i])
                try:
                    self.psql(f'select soak_tx({t.step}, {i + 1}, {seeds[i]})', timeout=60, dsn=self.src_dsn)
                    made += 1
                except DbError:
                    # A crash of the source, a deadlock: whether it committed,
                    # the source's txlog says.
                    failed += 1
            t.note(f'{made} source transactions' + (f', {failed} cut (crash or deadlock)' if failed else ''))
        return f'{n} transactions on the source (acct keyed, hist keyless FULL, txlog)', run

    def cdc_check(self, within=150):
        """Mirrors equal the source's tables, and each source transaction is in the change logs once,
        with as many rows as it made changes. Returns a list of problems."""
        if not self.cdc:
            return []
        # A published commit after everything: once its row is in the mirror,
        # every transaction before it was streamed.
        self.cdc_markers += 1
        self.psql_retry(f'insert into txlog values (0, {self.cdc_markers}, 0)', dsn=self.src_dsn)
        deadline = time.monotonic() + within
        while True:
            self.check_daemons()
            try:
                if self.psql(f'select 1 from core.{CDC_SOURCE}_txlog where step = 0 and tx = {self.cdc_markers}'):
                    break
            except DbError:
                pass
            if time.monotonic() > deadline:
                state = self.psql_retry(f"select state, coalesce(last_error, '') from sluice.sources "
                                        f"where name = '{CDC_SOURCE}'")
                return [f'cdc: the marker committed on the source is not in core.{CDC_SOURCE}_txlog after '
                        f'{within} s (source: {state})']
            time.sleep(0.25)
        problems = []
        fingerprint = "select '{0}', count(*), coalesce(sum(hashtext(t::text)), 0) from {1} t"
        want = self.psql_retry(' union all '.join(fingerprint.format(tb, tb) for tb in CDC_TABLES), dsn=self.src_dsn)
        got = self.psql_retry(' union all '.join(fingerprint.format(tb, f'core.{CDC_SOURCE}_{tb}')
                                                  for tb in CDC_TABLES))
        for w, g in zip(want, got):
            if w != g:
                problems.append(f'cdc: mirror core.{CDC_SOURCE}_{w[0]} differs from the source '
                                f'({g[1]} rows, hash {g[2]}; source {w[1]} rows, hash {w[2]})')
        truth = self.psql_retry('select step, tx, changes from txlog', dsn=self.src_dsn)
        values = ', '.join(f'({a}, {b}, {c})' for a, b, c in truth)
        log = f'staging.{CDC_SOURCE}'
        rows = self.psql_retry(
            f"with expected(step, tx, changes) as (values {values}), "
            f"logged as (select step, tx, count(*) as n, min(_lsn) as lsn from {log}_txlog where _op = 'i' "
            f"  group by step, tx), "
            f"changed as (select _lsn, count(*) as n from (select _lsn from {log}_acct where _op <> 's' "
            f"  union all select _lsn from {log}_hist where _op <> 's') c group by _lsn) "
            f"select 'missing or doubled', e.step, e.tx, e.changes, coalesce(l.n, 0), coalesce(c.n, 0) "
            f"  from expected e left join logged l using (step, tx) left join changed c on c._lsn = l.lsn "
            f" where coalesce(l.n, 0) <> 1 or coalesce(c.n, 0) <> e.changes "
            f"union all select 'not on the source', l.step, l.tx, null, l.n, null from logged l "
            f" where not exists (select 1 from expected e where e.step = l.step and e.tx = l.tx) "
            f"union all select 'of no transaction', null, null, null, null, c.n from changed c "
            f" where not exists (select 1 from logged l where l.lsn = c._lsn)")
        if rows:
            problems.append(f'cdc: {len(rows)} source transactions not in the change logs exactly once '
                            '(what, step, tx, changes made, txlog rows, change rows): '
                            + '; '.join(' '.join(r) for r in rows[:8]))
        if not problems:
            self.cdc_last = (len(truth) - self.cdc_markers, sum(int(c) for _, _, c in truth))
        return problems

    def plan_kill(self, t):
        down = t.rng.uniform(0, 2)

        def run():
            with self.primary.lock:
                pid = self.primary.kill9()
                if pid is not None:
                    self.daemon_killed(pid, 'kill')
                time.sleep(down)
                new = self.primary.start()
                t.note(f'kill -9 {pid}; restarted after {down:.1f} s as pid {new}')
        return f'kill -9 sluice, restart after {down:.1f} s', run

    def pg_ctl(self, *args):
        cmd = [os.path.join(self.a.pg_bindir, 'pg_ctl'), '-D', os.path.join(self.a.cluster_dir, 'data'), *args]
        if os.geteuid() == 0:
            cmd = ['runuser', '-u', 'postgres', '--'] + cmd
        return subprocess.run(cmd, cwd='/', capture_output=True, text=True, timeout=180)

    def plan_pg_crash(self, t):
        def run():
            with self.pg_lock:
                r = self.pg_ctl('-l', os.path.join(self.a.cluster_dir, 'server.log'), '-m', 'immediate',
                                '-w', '-t', '120', 'restart')
                if r.returncode != 0:
                    self.errors.append(f'step {t.step}: pg_ctl restart -m immediate failed: {r.stdout}{r.stderr}')
                t.note('pg_ctl restart -m immediate done')
        return 'pg_ctl restart -m immediate', run

    def setup_disk(self):
        if 'disk-full' not in self.faults:
            return
        if os.geteuid() != 0:
            self.say('note: not root: the disk-full fault is skipped')
            return
        d = os.path.join(self.work, 'disk')
        os.makedirs(d, exist_ok=True)
        # Room for what the tables on it grow to (about 8 MB a minute), twice
        # over: the fault fills what is left, and a run never fills it alone.
        self.disk_mb = max(256, int(256 + 16 * float(self.a.minutes)))
        r = subprocess.run(['mount', '-t', 'tmpfs', '-o', f'size={self.disk_mb}m,mode=0755', 'tmpfs', d],
                           capture_output=True, text=True)
        if r.returncode != 0:
            self.say(f'note: mount of a tmpfs failed ({r.stderr.strip()}): the disk-full fault is skipped')
            return
        ts = os.path.join(d, 'ts')
        os.makedirs(ts)
        subprocess.run(['chown', 'postgres:', ts], check=True)
        tables = self.small_tables
        self.psql(f"create tablespace soak_small location '{ts}'")
        for tb in tables:
            self.psql(f'alter table {tb} set tablespace soak_small')
        self.disk = d
        self.say(f'disk-full: {", ".join(tables)} live on a {self.disk_mb} MB tmpfs ({d}) that the fault fills')

    def plan_disk_full(self, t):
        hold = t.rng.uniform(1, 5)

        def run():
            if self.disk is None:
                t.note('skipped: no small disk')
                return
            with self.pg_lock:
                filler = os.path.join(self.disk, 'filler')
                written = 0
                try:
                    with open(filler, 'wb') as f:
                        chunk = b'\0' * (1 << 20)
                        while True:
                            f.write(chunk)
                            f.flush()
                            written += len(chunk)
                except OSError:
                    pass
                t.note(f'disk full ({written >> 20} MB of filler); freed after {hold:.1f} s')
                time.sleep(hold)
                os.unlink(filler)
        return f'fill the tablespace tmpfs for {hold:.1f} s', run

    def plan_stop(self, t):
        hold = t.rng.uniform(0.3, 4)

        def run():
            with self.primary.lock:
                pid = self.primary.pid()
                if pid is None:
                    return
                os.kill(pid, signal.SIGSTOP)
                try:
                    time.sleep(hold)
                finally:
                    os.kill(pid, signal.SIGCONT)
                t.note(f'SIGSTOP {pid} for {hold:.1f} s, SIGCONT')
        return f'SIGSTOP sluice for {hold:.1f} s', run

    def plan_second_daemon(self, t):
        life = t.rng.uniform(2, 12)
        hard = t.rng.random() < 0.6

        def run():
            with self.second_lock:
                pid = self.second.start()
                time.sleep(life)
                if hard:
                    self.second.kill9()
                    self.daemon_killed(pid, 'second-daemon')
                    t.note(f'second daemon pid {pid} killed -9 after {life:.1f} s')
                else:
                    r = self.second.terminate()
                    self.daemon_killed(pid, 'second-daemon')
                    t.note(f'second daemon pid {pid} stopped with SIGTERM after {life:.1f} s: status {r and r[1]}')
                    if r and r[1] not in (0, -signal.SIGTERM, 143):
                        self.errors.append(f'second daemon pid {pid} exited with status {r[1]} after SIGTERM')
        return f'second daemon for {life:.1f} s, then {"kill -9" if hard else "SIGTERM"}', run

    # ---------------------------------------------------------------- the oracle

    def oracle(self):
        """Checks every record the model knows. Returns a dict of findings."""
        found = collections.defaultdict(list)       # rid -> [(where, file id)]
        for table, expr in RID_OF_TABLE.items():
            for rid, fid in self.psql_retry(f'select {expr}, _file_id from staging.{table}'):
                found[int(rid) if rid else -1].append((table, int(fid)))
        unattributed = []
        for rid, fid, feed, rej in self.psql_retry(
                f'select {RID_OF_REJECT}, file_id, feed, id from sluice.rejects'):
            if rid == '':
                unattributed.append((int(rej), int(fid), feed))
            else:
                found[int(rid)].append(('reject', int(fid)))
        with self.lock:
            recs = dict(self.recs)
        lost, doubled, misplaced, atmost_seen = [], [], [], 0
        for rid, rec in recs.items():
            hits = found.get(rid, [])
            if len(hits) > 1:
                doubled.append(rid)
            elif len(hits) == 1:
                if rec.rule == 'atmost':
                    atmost_seen += 1
                where = hits[0][0]
                if (where == 'reject') != rec.bad or (where != 'reject' and where != rec.table):
                    misplaced.append(rid)
            elif rec.rule == 'once':
                lost.append(rid)
        unknown = sorted(r for r in found if r not in recs)
        return {'found': found, 'lost': lost, 'doubled': doubled, 'misplaced': misplaced,
                'unknown': unknown, 'unattributed': unattributed, 'records': len(recs),
                'atmost': sum(1 for r in recs.values() if r.rule == 'atmost'), 'atmost_seen': atmost_seen}

    @staticmethod
    def bad_count(res):
        return (len(res['lost']) + len(res['doubled']) + len(res['misplaced']) + len(res['unknown'])
                + len(res['unattributed']))

    def reports(self):
        parts = []
        for label, actual, expected in REPORT_CHECKS:
            parts.append(f"select '{label}', (select count(*) from (({expected}) except all ({actual})) x), "
                         f"(select count(*) from (({actual}) except all ({expected})) x)")
        rows = self.psql_retry(' union all '.join(parts))
        return [(label, int(m), int(u)) for label, m, u in rows if int(m) or int(u)]

    def sanitizer_reports(self):
        hits = []
        for d in (self.primary, self.second):
            for log in d.logs:
                try:
                    with open(log, errors='replace') as f:
                        for line in f:
                            if SANITIZER.search(line):
                                hits.append(f'{log}: {line.rstrip()}')
                                break
                except OSError:
                    pass
        return hits

    def check_daemons(self):
        for d in (self.primary, self.second):
            why = d.check()
            if why:
                self.fail(why)
        if self.errors:
            self.fail('harness action failed:\n' + '\n'.join(self.errors))

    def wait_idle(self, within=150):
        """Until no ledger row is loading a file that still exists and nothing has moved for a while."""
        start = time.monotonic()
        last_sig, stable_since, busy = None, time.monotonic(), []
        res = None
        while True:
            self.check_daemons()
            try:
                loading = self.psql("select path from sluice.files where state = 'loading'")
                sig = self.psql('select count(*), coalesce(sum(bytes_done), 0), '
                                'coalesce(sum(rows_loaded + rows_rejected), 0) from sluice.files')
                busy = [p[0] for p in loading if os.path.exists(self.abs(p[0]))]
            except DbError:
                time.sleep(0.5)
                continue
            if sig != last_sig:
                last_sig, stable_since = sig, time.monotonic()
            quiet_for = time.monotonic() - stable_since
            if not busy and quiet_for >= 2:
                res = self.oracle()
                if self.bad_count(res) == 0 or res['doubled'] or quiet_for >= 20:
                    return res, busy
            if time.monotonic() - start > within:
                return self.oracle(), busy
            time.sleep(0.5)

    def quiet(self, label):
        began = self.now()
        self.event(0, 'quiet', f'{label}: writers done, faults over, waiting for the daemon to be idle')
        for t in self.tasks:
            t.thread.join(240)
            if t.thread.is_alive():
                self.fail(f'harness: step {t.step} ({t.action}) still running after 240 s')
        self.tasks = []
        self.check_daemons()
        res, busy = self.wait_idle()
        self.last_check = res
        self.quiet_points += 1
        problems = []
        if busy:
            problems.append(f'still loading after the wait: {", ".join(busy[:10])}')
        if self.bad_count(res):
            problems.append(f'{len(res["lost"])} lost, {len(res["doubled"])} doubled, '
                            f'{len(res["misplaced"])} misplaced, {len(res["unknown"])} unknown, '
                            f'{len(res["unattributed"])} unattributed rejects')
        problems.extend(self.cdc_check())
        problems.extend(self.file_counts_check())
        diffs = self.reports()
        res['reports'] = diffs
        if diffs:
            problems.append('reports differ from their full recompute: ' + '; '.join(
                f'{l}: {m} missing, {u} unexpected' for l, m, u in diffs))
        san = self.sanitizer_reports()
        if san:
            problems.append('sanitizer reports:\n  ' + '\n  '.join(san))
        self.say(f'{label}: {fmt_int(res["records"])} records checked in {self.now() - began:.1f} s: '
                 + ('; '.join(problems) if problems else
                    f'all as promised ({res["atmost_seen"]} of {res["atmost"]} at-most-once records stored'
                    + (f'; cdc: {fmt_int(self.cdc_last[0])} source transactions, each once' if self.cdc_last else '')
                    + ')'))
        if problems and self.bad_count(res) == 0 and not diffs and not san and not any(
                p.startswith('cdc:') for p in problems):
            # Only "still loading": the records are all there; say so and go on.
            return
        if problems:
            self.fail(f'the oracle failed at {label}: ' + '; '.join(problems), res)

    # ---------------------------------------------------------------- failure

    def describe(self, rid, res, files):
        rec = self.recs.get(rid)
        hits = res['found'].get(rid, [])
        where = ', '.join(f'{w} in file {fid} ({files.get(fid, ("?", "?"))[0]}, {files.get(fid, ("?", "?"))[1]})'
                          for w, fid in hits) or 'nowhere'
        if rec is None:
            return f'  rid {rid}: not written by the harness; found {len(hits)}x: {where}'
        kind = 'bad record (expected a reject)' if rec.bad else 'good record'
        return (f'  rid {rid}: {kind} of {rec.table}, rule {rec.rule}, written by step {rec.step} to {rec.path}; '
                f'found {len(hits)}x: {where}')

    def story(self, rid, res):
        """The ledger rows of the files a record's step wrote or landed in, with their reasons,
        and every line the daemons logged about those files (but the commit lines): what a
        replay may not show again."""
        rec = self.recs.get(rid)
        names = set()
        if rec is not None:
            names.add(os.path.basename(rec.path))
            stem = os.path.basename(rec.path).split('.')[0]
            names.update(os.path.basename(p) for p in self.files if os.path.basename(p).startswith(stem))
        out = [f'\nthe story of rid {rid} (files {", ".join(sorted(names)) or "?"}):']
        try:
            rows = self.psql_retry("select id, path, state, coalesce(reason, ''), bytes_done, size_seen, inode "
                                   "from sluice.files order by id", 30)
        except DbError:
            rows = []
        for r in rows:
            if os.path.basename(r[1].split(' ')[0]) in names:
                out.append('  ledger: ' + ' | '.join(r))
        lines = []
        for d in (self.primary, self.second):
            for log in d.logs:
                try:
                    with open(log, errors='replace') as f:
                        for l in f:
                            if ' committed: ' not in l and any(n in l for n in names):
                                lines.append(f'{os.path.basename(log)}: {l.rstrip()}')
                except OSError:
                    pass
        lines.sort(key=lambda l: l.split(': ', 1)[1][:23])
        out.extend('  ' + l[:400] for l in lines[:60])
        if len(lines) > 60:
            out.append(f'  ({len(lines) - 60} more lines)')
        return out

    def fail(self, reason, res=None):
        raise Abort(reason, res)

    def report_failure(self, reason, res):
        out = [f'SOAK FAILED: {reason}', f'seed {self.seed}; replay: {self.replay()}', '', 'schedule:']
        with self.lock:
            sched = sorted(self.sched, key=lambda e: e[0])
        for t, step, action, detail in sched:
            out.append(f'  {t:7.2f}s  #{step:<4} {action:<13} {detail}')
        if res:
            try:
                files = {int(i): (p, s) for i, p, s in self.psql_retry('select id, path, state from sluice.files', 30)}
            except DbError:
                files = {}
            for what in ('doubled', 'lost', 'misplaced', 'unknown'):
                rids = sorted(res[what])
                if rids:
                    # The first few of each step: each step is one writer's story.
                    by_step = collections.defaultdict(list)
                    for r in rids:
                        by_step[self.recs[r].step if r in self.recs else r // RID_SPAN].append(r)
                    out.append(f'\n{what}: {len(rids)} records, by step: ' + ', '.join(
                        f'#{st} ({self.step_action(st)}): {len(rs)}' for st, rs in sorted(by_step.items())))
                    for st, rs in sorted(by_step.items())[:8]:
                        out.extend(self.describe(r, res, files) for r in rs[:3])
                    if what != 'unknown':
                        out.extend(self.story(sorted(by_step.items())[0][1][0], res))
            if res['unattributed']:
                out.append(f'\nrejects without a rid: {len(res["unattributed"])}; the first ones:')
                for rej, fid, feed in res['unattributed'][:8]:
                    out.append(f'  reject {rej} of feed {feed}, file {fid} ({files.get(fid, ("?", "?"))[0]})')
        for d in (self.primary, self.second):
            for log in d.logs[-2:]:
                out.append(f'\n--- tail of {log}')
                try:
                    with open(log, errors='replace') as f:
                        out.extend(l.rstrip() for l in f.readlines()[-30:])
                except OSError:
                    pass
        print('\n'.join(out), flush=True)

    def step_action(self, step):
        for _, s, action, _ in self.sched:
            if s == step:
                return action
        return '?'

    def replay(self):
        cmd = f'scripts/soak.sh --seed {self.seed} --minutes {self.a.minutes}'
        if self.a.writers != 'all':
            cmd += f" --writers '{self.a.writers}'"
        if self.a.faults != 'all':
            cmd += f" --faults '{self.a.faults}'"
        if self.a.sluice_origin:
            cmd += f' --sluice {self.a.sluice_origin}'
        return cmd

    def summary(self, seconds, verdict):
        res = self.last_check or {'records': len(self.recs), 'lost': [], 'doubled': [], 'reports': None}
        faults = sum(self.fault_counts.values())
        kinds = ', '.join(f'{k} {n}' for k, n in sorted(self.fault_counts.items()))
        reports = ('reports equal' if res.get('reports') == [] else
                   'reports not checked' if res.get('reports') is None else 'reports DIFFER')
        return (f'soak: seed {self.seed}, {seconds:.0f} s, {fmt_int(len(self.recs))} records in '
                f'{fmt_int(len(self.files))} files, {faults} faults' + (f' ({kinds})' if kinds else '') +
                f': {fmt_int(len(res["lost"]))} lost, {fmt_int(len(res["doubled"]))} doubled, '
                + ''.join(f'{fmt_int(len(res[k]))} {k}, ' for k in ('misplaced', 'unknown', 'unattributed')
                          if res.get(k)) + reports
                + (f'; cdc: {fmt_int(self.cdc_last[0])} source transactions, {fmt_int(self.cdc_last[1])} changes, '
                   'each once, mirrors equal' if self.cdc_last else '')
                + ('' if verdict else ' -- FAILED'))

    # ---------------------------------------------------------------- main loop

    def planner(self, action):
        return getattr(self, 'plan_' + action.replace('-', '_'))

    def run(self):
        for d in ('inbox/soak/logs', 'inbox/pleo/users', 'inbox/pleo/cards', 'inbox/sales', 'outside', 'logs'):
            os.makedirs(os.path.join(self.work, d), exist_ok=True)
        self.setup_disk()
        self.setup_cdc()
        self.primary.start()
        self.wait_cdc_streaming()
        actions = self.writers + self.faults
        if not actions:
            sys.exit('error: no writers and no faults to run')
        weights = [WEIGHTS[a] for a in actions]
        duration = float(self.a.minutes) * 60
        self.say(f'running {duration:.0f} s of: {", ".join(actions)}')
        t_end = time.monotonic() + duration
        traffic_start = time.monotonic()
        step = 0
        next_quiet = self.rng.randint(*QUIET_EVERY)
        while time.monotonic() < t_end:
            step += 1
            gap = min(self.rng.expovariate(1 / STEP_GAP), 3.0)
            action = self.rng.choices(actions, weights)[0]
            seed = self.rng.getrandbits(64)
            if step == next_quiet:
                next_quiet = step + self.rng.randint(*QUIET_EVERY)
                self.quiet(f'quiet point {self.quiet_points + 1} (step {step})')
                continue
            time.sleep(gap)
            self.check_daemons()
            while sum(1 for t in self.tasks if not t.done.is_set()) >= MAX_TASKS:
                time.sleep(0.05)
            t = Task(self, step, action, seed)
            detail, body = self.planner(action)(t)
            self.event(step, action, detail)
            if action in FAULTS:
                self.fault_counts[action] += 1

            def go(t=t, body=body):
                try:
                    body()
                except Exception:
                    self.errors.append(f'step {t.step} ({t.action}): {traceback.format_exc()}')
                finally:
                    t.done.set()
            t.thread = threading.Thread(target=go, name=f'step-{step}', daemon=True)
            self.tasks.append(t)
            t.thread.start()
        seconds = time.monotonic() - traffic_start
        self.say(f'traffic over after {step} steps; final check')
        self.quiet('end')
        r = self.primary.terminate()
        if r and r[1] not in (0, -signal.SIGTERM, 143):
            self.fail(f'sluice exited with status {r[1]} after SIGTERM at the end')
        san = self.sanitizer_reports()
        if san:
            self.fail('sanitizer reports:\n  ' + '\n  '.join(san), self.last_check)
        return seconds

    def cleanup(self):
        for d in (self.second, self.primary):
            try:
                d.terminate(10)
            except Exception:
                pass
        if self.a.keep and self.disk:
            # The tmpfs goes away: bring the tables home so that the kept cluster starts.
            try:
                for tb in self.small_tables:
                    self.psql(f'alter table {tb} set tablespace pg_default', 120)
                self.psql('drop tablespace soak_small', 60)
            except Exception as e:
                print(f'soak: could not move the tables off the small disk: {e}', flush=True)
        if self.a.keep:
            for name, sql in (('ledger.tsv', 'select * from sluice.files order by id'),
                              ('rejects.tsv', "select id, file_id, feed, record, line, byte_offset, field, reason, "
                                              "replace(replace(left(raw, 300), E'\\n', '\\n'), E'\\t', '\\t') "
                                              "from sluice.rejects order by id")):
                try:
                    with open(os.path.join(self.work, name), 'w') as f:
                        f.write('\n'.join('\t'.join(r) for r in self.psql(sql, 60)) + '\n')
                except Exception:
                    pass
            with open(os.path.join(self.work, 'schedule.txt'), 'w') as f:
                for t, step, action, detail in sorted(self.sched, key=lambda e: e[0]):
                    f.write(f'{t:7.2f}s  #{step:<4} {action:<13} {detail}\n')
            print(f'soak: work folder kept: {self.work} (inbox/, logs/, schedule.txt, ledger.tsv, rejects.tsv); '
                  f'the warehouse too, stopped: start it with '
                  f'{"runuser -u postgres -- " if os.geteuid() == 0 else ""}{self.a.pg_bindir}/pg_ctl '
                  f'-D {self.a.cluster_dir}/data -l {self.a.cluster_dir}/server.log start; '
                  f'then psql "{self.dsn}"', flush=True)


class _RidView:
    """Looks like a Task to pleo_doc: rids base+1, base+2, ..."""

    def __init__(self, base):
        self.base = base
        self.n = 0

    def rid(self):
        self.n += 1
        return self.base + self.n


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--work', required=True)
    p.add_argument('--dsn', required=True)
    p.add_argument('--cluster-dir', required=True)
    p.add_argument('--pg-bindir', required=True)
    p.add_argument('--sluice', required=True)
    p.add_argument('--sluice-origin', default='')
    p.add_argument('--seed', type=int, required=True)
    p.add_argument('--minutes', default='5')
    p.add_argument('--writers', default='all')
    p.add_argument('--faults', default='all')
    p.add_argument('--keep', type=int, default=0)
    a = p.parse_args()
    soak = Soak(a)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    seconds, ok = 0.0, False
    try:
        started = time.monotonic()
        try:
            seconds = soak.run()
            ok = True
        except Abort as e:
            seconds = time.monotonic() - started
            soak.report_failure(e.args[0], e.args[1] if len(e.args) > 1 else None)
    finally:
        soak.cleanup()
    print(soak.summary(seconds, ok), flush=True)
    sys.exit(0 if ok else 1)


if __name__ == '__main__':
    main()
