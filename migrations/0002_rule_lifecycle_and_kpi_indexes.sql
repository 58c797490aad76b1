DROP INDEX "detections_once";--> statement-breakpoint
ALTER TABLE "rules" ADD COLUMN "shadow_version" integer;--> statement-breakpoint
ALTER TABLE "rules" ADD COLUMN "previous_version" integer;--> statement-breakpoint
CREATE INDEX "detections_rule_id_created_at_index" ON "detections" USING btree ("rule_id","created_at");--> statement-breakpoint
CREATE INDEX "tickets_opened_at_index" ON "tickets" USING btree ("opened_at");--> statement-breakpoint
CREATE INDEX "tickets_resolved_at_index" ON "tickets" USING btree ("resolved_at");--> statement-breakpoint
CREATE UNIQUE INDEX "detections_once" ON "detections" USING btree ("rule_id","rule_version","device_id","detected_at");