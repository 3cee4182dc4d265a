/**
 * The schema of the PostgreSQL stores as numbered migrations, applied in order at start-up under an
 * advisory lock (several processes starting at once apply each migration exactly once). Applied
 * versions are recorded in `schema_migrations`. A migration is never edited once released: a change
 * is a new migration at the end. See docs/postgres.md.
 */

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'sessions',
    // Ids compare bytewise (COLLATE "C"): a prefix lookup is a primary-key range scan
    // (id >= 'ab' AND id < 'ab' || 'g'). The columns are what lists filter, sort and claim on;
    // everything else of the record is in `data`.
    sql: `
      CREATE TABLE sessions (
        id          text COLLATE "C" PRIMARY KEY,
        backend     text NOT NULL,
        owner       text COLLATE "C",
        status      text NOT NULL,
        created_at  timestamptz NOT NULL,
        last_used   timestamptz NOT NULL,
        claimed_by  jsonb,
        data        jsonb NOT NULL
      );
      CREATE INDEX sessions_order ON sessions (last_used DESC, id);
      CREATE INDEX sessions_backend_order ON sessions (backend, last_used DESC, id);
      CREATE INDEX sessions_status_order ON sessions (status, last_used DESC, id);
      CREATE INDEX sessions_owner_order ON sessions (owner, last_used DESC, id);
    `,
  },
  {
    version: 2,
    name: 'jobs',
    sql: `
      CREATE TABLE jobs (
        id               text COLLATE "C" PRIMARY KEY,
        queue_seq        bigint NOT NULL,
        status           text NOT NULL,
        operation        text NOT NULL,
        backend          text,
        owner            text COLLATE "C" NOT NULL,
        finished_at      timestamptz,
        idempotency_key  text COLLATE "C",
        record           jsonb NOT NULL
      );
      CREATE INDEX jobs_order ON jobs (queue_seq DESC);
      CREATE INDEX jobs_status_order ON jobs (status, queue_seq DESC);
      CREATE INDEX jobs_owner_order ON jobs (owner, queue_seq DESC);
      CREATE INDEX jobs_idempotency ON jobs (owner, idempotency_key) WHERE idempotency_key IS NOT NULL;
      CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;
      CREATE TABLE job_events (
        job_id    text COLLATE "C" NOT NULL,
        sequence  integer NOT NULL,
        line      text NOT NULL,
        PRIMARY KEY (job_id, sequence)
      );
    `,
  },
  {
    version: 3,
    name: 'sessions list by backend and status',
    // A page filtered by backend and status (and its total) reads one index range, index-only.
    sql: `CREATE INDEX sessions_backend_status_order ON sessions (backend, status, last_used DESC, id);`,
  },
  {
    version: 4,
    name: 'usage',
    // One row per finished execution; `day` is the UTC day of `time` (quota counters, retention).
    // Group fields compare bytewise (COLLATE "C"), as the file store sorts them.
    sql: `
      CREATE TABLE usage_records (
        time           timestamptz NOT NULL,
        day            text COLLATE "C" NOT NULL,
        key            text COLLATE "C" NOT NULL,
        api_style      text COLLATE "C" NOT NULL,
        operation      text NOT NULL,
        backend        text COLLATE "C" NOT NULL,
        model          text COLLATE "C",
        working_dir    text NOT NULL,
        approval_mode  text NOT NULL,
        sandbox_mode   text NOT NULL,
        status         text COLLATE "C" NOT NULL,
        duration_ms    bigint NOT NULL,
        input_tokens   bigint NOT NULL,
        output_tokens  bigint NOT NULL,
        cached_tokens  bigint NOT NULL,
        estimated      boolean NOT NULL,
        session_id     text,
        job_id         text,
        request_id     text NOT NULL
      );
      CREATE INDEX usage_records_time ON usage_records (time);
      CREATE INDEX usage_records_key_time ON usage_records (key, time);
      CREATE INDEX usage_records_day ON usage_records (day);
    `,
  },
  {
    version: 5,
    name: 'usage daily rollup',
    // Per UTC day, the sums of the records of each combination of the group fields of
    // GET /api/v1/usage. A statement-level trigger adds every inserted batch in the same transaction
    // (upserts in group order, so concurrent writers lock rows in one order); queries read whole
    // days here and only the cut days at the ends of a range from usage_records. `failed` is not
    // stored: status is one of the group fields. Existing records are summed in once here.
    sql: `
      CREATE TABLE usage_daily (
        day            text COLLATE "C" NOT NULL,
        key            text COLLATE "C" NOT NULL,
        backend        text COLLATE "C" NOT NULL,
        model          text COLLATE "C",
        api_style      text COLLATE "C" NOT NULL,
        status         text COLLATE "C" NOT NULL,
        requests       bigint NOT NULL,
        input_tokens   bigint NOT NULL,
        output_tokens  bigint NOT NULL,
        cached_tokens  bigint NOT NULL,
        duration_ms    bigint NOT NULL,
        CONSTRAINT usage_daily_group UNIQUE NULLS NOT DISTINCT (day, key, backend, model, api_style, status)
      );
      INSERT INTO usage_daily
        SELECT day, key, backend, model, api_style, status, count(*), sum(input_tokens), sum(output_tokens),
               sum(cached_tokens), sum(duration_ms)
          FROM usage_records GROUP BY day, key, backend, model, api_style, status;
      CREATE FUNCTION usage_daily_add() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
      BEGIN
        INSERT INTO usage_daily AS d
          SELECT day, key, backend, model, api_style, status, count(*), sum(input_tokens), sum(output_tokens),
                 sum(cached_tokens), sum(duration_ms)
            FROM added GROUP BY day, key, backend, model, api_style, status
           ORDER BY day, key, backend, model, api_style, status
        ON CONFLICT ON CONSTRAINT usage_daily_group DO UPDATE SET
          requests = d.requests + EXCLUDED.requests,
          input_tokens = d.input_tokens + EXCLUDED.input_tokens,
          output_tokens = d.output_tokens + EXCLUDED.output_tokens,
          cached_tokens = d.cached_tokens + EXCLUDED.cached_tokens,
          duration_ms = d.duration_ms + EXCLUDED.duration_ms;
        RETURN NULL;
      END
      $$;
      CREATE TRIGGER usage_daily_add AFTER INSERT ON usage_records REFERENCING NEW TABLE AS added
        FOR EACH STATEMENT EXECUTE FUNCTION usage_daily_add();
    `,
  },
  {
    version: 6,
    name: 'jobs across nodes',
    // `node`: the node that claimed a job and drives it (NULL while it waits in the queue);
    // `job_nodes`: one heartbeat row per node process; queue positions come from one sequence, so
    // that every node numbers new jobs in one order.
    sql: `
      ALTER TABLE jobs ADD COLUMN node text COLLATE "C";
      CREATE INDEX jobs_unfinished ON jobs (queue_seq) WHERE status IN ('queued', 'running');
      CREATE TABLE job_nodes (
        node     text COLLATE "C" PRIMARY KEY,
        seen_at  timestamptz NOT NULL
      );
      CREATE SEQUENCE jobs_queue_seq;
      SELECT setval('jobs_queue_seq', coalesce((SELECT max(queue_seq) FROM jobs), 0) + 1, false);
    `,
  },
  {
    version: 7,
    name: 'sessions list totals',
    // The total of a filtered list counts index entries of the filter columns alone: with B-tree
    // deduplication these indexes stay a few hundred kB at 100 000 sessions (the ordering indexes,
    // which also hold last_used and the id, are some 15 MB), so a total reads a few pages.
    sql: `
      CREATE INDEX sessions_count_backend_status ON sessions (backend, status);
      CREATE INDEX sessions_count_owner ON sessions (owner, backend, status);
    `,
  },
];
