import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { Database } from '../../db/database.js'
import { listRejections } from '../../ingest/rejection-list.js'

export const rejectionRoutes: FastifyPluginAsyncZod<{ database: Database }> = async (app, { database }) => {
  app.get('/rejections', {
    config: { roles: ['admin', 'ops', 'viewer'] },
    schema: {
      tags: ['ingest'],
      summary: 'Messages ingest refused, with the reason and the first 2 KB of the payload',
      querystring: z.object({
        deviceId: z.string().optional(), reason: z.string().optional(),
        before: z.coerce.number().int().positive().optional(), limit: z.coerce.number().int().min(1).max(500).default(100),
      }),
    },
  }, (req) => listRejections(database, req.query))
}
