DROP INDEX "readings_received";--> statement-breakpoint
CREATE INDEX "readings_received" ON "readings" USING brin ("received_at");