CREATE UNIQUE INDEX "readings_device_ts_dedup" ON "readings" USING btree ("device_id","ts","kind","dedup_key");--> statement-breakpoint
DROP INDEX "readings_dedup";--> statement-breakpoint
DROP INDEX "readings_device_ts";
