CREATE TABLE "notification_consent_log" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"customer_id" text NOT NULL,
	"channel" text NOT NULL,
	"address" text,
	"consent" boolean NOT NULL,
	"source" text NOT NULL,
	"actor" text,
	"at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "notification_attempts" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"notification_id" bigint NOT NULL,
	"round" integer NOT NULL,
	"channel" text NOT NULL,
	"address" text,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"duration_ms" integer DEFAULT 0 NOT NULL,
	"outcome" text NOT NULL,
	"status_code" integer,
	"provider_message_id" text,
	"error" text
);
--> statement-breakpoint
CREATE TABLE "notification_preferences" (
	"customer_id" text PRIMARY KEY NOT NULL,
	"quiet_hours" text,
	"daily_cap" integer,
	"unsubscribe_token" text NOT NULL,
	"updated_by" text,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "notification_preferences_unsubscribeToken_unique" UNIQUE("unsubscribe_token")
);
--> statement-breakpoint
CREATE TABLE "notification_quota" (
	"customer_id" text NOT NULL,
	"day" text NOT NULL,
	"used" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "notification_quota_customer_id_day_pk" PRIMARY KEY("customer_id","day")
);
--> statement-breakpoint
CREATE TABLE "notification_templates" (
	"kind" text NOT NULL,
	"locale" text NOT NULL,
	"channel" text DEFAULT '*' NOT NULL,
	"subject" text DEFAULT '' NOT NULL,
	"body" text NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"updated_by" text,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "notification_templates_kind_locale_channel_pk" PRIMARY KEY("kind","locale","channel")
);
--> statement-breakpoint
CREATE TABLE "notifications" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"message_id" text NOT NULL,
	"dedup_key" text NOT NULL,
	"customer_id" text NOT NULL,
	"ticket_id" text,
	"kind" text NOT NULL,
	"urgent" boolean DEFAULT false NOT NULL,
	"payload" jsonb NOT NULL,
	"status" text DEFAULT 'queued' NOT NULL,
	"reason" text,
	"digest_id" bigint,
	"channel" text,
	"address" text,
	"provider_message_id" text,
	"locale" text,
	"rendered" jsonb,
	"rounds" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
	"locked_until" timestamp with time zone,
	"locked_by" text,
	"quota_day" text,
	"last_error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sent_at" timestamp with time zone,
	"delivered_at" timestamp with time zone,
	CONSTRAINT "notifications_messageId_unique" UNIQUE("message_id"),
	CONSTRAINT "notifications_dedupKey_unique" UNIQUE("dedup_key")
);
--> statement-breakpoint
ALTER TABLE "notification_attempts" ADD CONSTRAINT "notification_attempts_notification_id_notifications_id_fk" FOREIGN KEY ("notification_id") REFERENCES "public"."notifications"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "notification_consent_log_customer_id_id_index" ON "notification_consent_log" USING btree ("customer_id","id");--> statement-breakpoint
CREATE INDEX "notification_attempts_notification_id_index" ON "notification_attempts" USING btree ("notification_id");--> statement-breakpoint
CREATE INDEX "notifications_due" ON "notifications" USING btree ("next_attempt_at") WHERE status in ('queued', 'deferred');--> statement-breakpoint
CREATE INDEX "notifications_customer_pending" ON "notifications" USING btree ("customer_id","id") WHERE status in ('queued', 'deferred');--> statement-breakpoint
CREATE INDEX "notifications_customer_id_created_at_index" ON "notifications" USING btree ("customer_id","created_at");--> statement-breakpoint
CREATE INDEX "notifications_ticket_id_index" ON "notifications" USING btree ("ticket_id");--> statement-breakpoint
CREATE INDEX "notifications_digest_id_index" ON "notifications" USING btree ("digest_id");--> statement-breakpoint
CREATE INDEX "notifications_provider_message_id_index" ON "notifications" USING btree ("provider_message_id");--> statement-breakpoint
CREATE INDEX "notifications_status_id_index" ON "notifications" USING btree ("status","id");