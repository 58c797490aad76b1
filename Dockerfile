# precall gateway. Runs TypeScript through tsx, which is a runtime dependency: no build step.
FROM node:20-slim

ENV NODE_ENV=production
WORKDIR /app

COPY package.json package-lock.json ./
# npm ci's postinstall applies them (patch-package); see README, Dependencies we patch.
COPY patches ./patches
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

COPY tsconfig.json ./
COPY rules ./rules
COPY gateway ./gateway
# Applied at every start, on PGlite and PostgreSQL alike.
COPY migrations ./migrations

RUN mkdir -p /data && chown node:node /data
USER node

# PGlite lives in /data when DATABASE_URL is unset.
ENV HOST=0.0.0.0 HTTP_PORT=8080 MQTT_PORT=1883 DATA_DIR=/data
VOLUME /data
EXPOSE 8080 1883

# node itself is PID 1, so SIGTERM reaches the gateway's graceful shutdown (npx/npm would swallow it).
# Node flags as in `npm start` (package.json; README "Performance" says why the young generation is larger).
CMD ["node", "--max-semi-space-size=64", "--import", "tsx", "gateway/main.ts"]
