CREATE TABLE "reading_rollups" (
	"device_id" text NOT NULL,
	"metric" text NOT NULL,
	"hour" timestamp with time zone NOT NULL,
	"count" integer NOT NULL,
	"min" double precision NOT NULL,
	"max" double precision NOT NULL,
	"sum" double precision NOT NULL,
	"sum_sq" double precision NOT NULL,
	CONSTRAINT "reading_rollups_device_id_metric_hour_pk" PRIMARY KEY("device_id","metric","hour")
);
--> statement-breakpoint
CREATE INDEX "reading_rollups_hour_index" ON "reading_rollups" USING btree ("hour");--> statement-breakpoint
-- readings becomes a table partitioned by day of event time (see schema.ts). The rows stored so far
-- go to the default partition; the gateway's retention pass moves each day still kept into its
-- own partition, and deletes the rest once past the retention window. The gateway counts rollups
-- as readings commit; what was stored before this migration is counted here, once.
ALTER TABLE "readings" RENAME TO "readings_unpartitioned";--> statement-breakpoint
ALTER TABLE "readings_unpartitioned" RENAME CONSTRAINT "readings_pkey" TO "readings_unpartitioned_pkey";--> statement-breakpoint
ALTER INDEX "readings_device_ts_dedup" RENAME TO "readings_unpartitioned_dedup";--> statement-breakpoint
ALTER INDEX "readings_received" RENAME TO "readings_unpartitioned_received";--> statement-breakpoint
CREATE TABLE "readings" (
	"id" bigint DEFAULT nextval('readings_id_seq') NOT NULL,
	"device_id" text NOT NULL,
	"kind" text NOT NULL,
	"ts" timestamp with time zone NOT NULL,
	"seq" bigint,
	"dedup_key" text NOT NULL,
	"metrics" jsonb,
	"state" text,
	"code" text,
	"detail" jsonb,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "readings_id_ts_pk" PRIMARY KEY("id","ts")
) PARTITION BY RANGE ("ts");--> statement-breakpoint
CREATE UNIQUE INDEX "readings_device_ts_dedup" ON "readings" USING btree ("device_id","ts","kind","dedup_key");--> statement-breakpoint
CREATE INDEX "readings_received" ON "readings" USING brin ("received_at");--> statement-breakpoint
CREATE TABLE "readings_default" PARTITION OF "readings" DEFAULT;--> statement-breakpoint
INSERT INTO "readings" SELECT * FROM "readings_unpartitioned";--> statement-breakpoint
ALTER SEQUENCE "readings_id_seq" OWNED BY "readings"."id";--> statement-breakpoint
DROP TABLE "readings_unpartitioned";--> statement-breakpoint
INSERT INTO "reading_rollups" ("device_id", "metric", "hour", "count", "min", "max", "sum", "sum_sq")
SELECT r."device_id", m."key", date_bin('1 hour', r."ts", timestamptz 'epoch'), count(*), min(m."v"), max(m."v"), sum(m."v"), sum(m."v" * m."v")
FROM "readings" r, LATERAL (SELECT "key", "value"::float8 AS "v" FROM jsonb_each(r."metrics") WHERE jsonb_typeof("value") = 'number') m
WHERE r."kind" = 'telemetry'
GROUP BY 1, 2, 3;
