// The broker thread's entry (see broker-thread.ts): registers tsx's loader in this thread, which on
// Node 20 does not inherit it from the thread that started it, then runs the broker's module.
import { workerData } from 'node:worker_threads'
import { register } from 'tsx/esm/api'

register()
await import(workerData.module)
