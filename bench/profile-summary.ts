import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'

const USAGE = `usage: npm run bench:profile -- FILE.cpuprofile [--top 25] [--within REGEX] [--depth N] [--busiest SECONDS [--during REGEX]]
Summarises a V8 CPU profile (from \`npm run bench -- --profile DIR\`): self time by package, by
function, and charged to the nearest precall frame on the stack (what our code causes, libraries
included). --within keeps only samples whose frame (function, file or package) matches REGEX,
to see who causes, say, writeBuffer or drizzle-orm; --depth N also lists the N frames below each;
--busiest keeps only the busiest window of that length, busiest in frames matching --during
(default: any), e.g. --busiest 8 --during mqtt-packet for the load rather than start-up.
A V8 profile samples wall time: a native call's self time (writev, writeBuffer, read) holds its
system call and any wait for a core it lost meanwhile, which on a full machine can be most of it
(bench/README.md, fifteenth session); \`npm run bench:fixed\` prints the thread's CPU in user and
kernel time.`

type Frame = { functionName: string; url: string; lineNumber: number }
type Node = { id: number; callFrame: Frame; children?: number[] }
type Profile = { nodes: Node[]; samples: number[]; timeDeltas: number[] }

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' }, within: { type: 'string' }, depth: { type: 'string', default: '0' }, busiest: { type: 'string' }, during: { type: 'string' }, help: { type: 'boolean', short: 'h' } } })
if (values.help || positionals.length !== 1) {
  console.log(USAGE)
  process.exit(values.help ? 0 : 2)
}
const top = Number(values.top)
const profile = JSON.parse(readFileSync(positionals[0], 'utf8')) as Profile

const byId = new Map(profile.nodes.map((n) => [n.id, n]))
const parent = new Map<number, number>()
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)

const shortUrl = (url: string) => url.replace(/^file:\/\/.*?\/(node_modules|gateway|rules|device-sim|bench)\//, '$1/')
const packageOf = (f: Frame) => {
  if (!f.url) return f.functionName.startsWith('(') ? f.functionName : '(native)'
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(f.url)
  if (m) return m[1]
  if (f.url.startsWith('node:')) return 'node:' + f.url.slice(5).split('/')[0]
  return shortUrl(f.url).split('/').slice(0, 2).join('/')
}
const label = (f: Frame) => `${f.functionName || '(anonymous)'} ${shortUrl(f.url)}:${f.lineNumber + 1}`
const ours = (f: Frame) => /\/(gateway|rules)\//.test(f.url) && !f.url.includes('node_modules')

const idle = new Set(profile.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id))
const at: number[] = []
profile.timeDeltas.reduce((t, d, i) => (at[i] = t + d), 0)
const during = values.during === undefined ? undefined : new RegExp(values.during)
const counts = (i: number) => {
  if (idle.has(profile.samples[i])) return false
  if (!during) return true
  for (let n: number | undefined = profile.samples[i]; n !== undefined; n = parent.get(n)) {
    const f = byId.get(n)!.callFrame
    if (during.test(label(f)) || during.test(packageOf(f))) return true
  }
  return false
}
const [from, to] = values.busiest === undefined ? [-Infinity, Infinity] : busiestWindow(Number(values.busiest) * 1e6)
const selfMs = new Map<number, number>()
profile.samples.forEach((id, i) => {
  if (at[i] >= from && at[i] < to) selfMs.set(id, (selfMs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000)
})

/** The window of `span` µs with the most busy samples (two pointers over the sample times). */
function busiestWindow(span: number): [number, number] {
  let best = 0, bestFrom = 0, busy = 0, lo = 0
  for (let hi = 0; hi < at.length; hi++) {
    if (counts(hi)) busy += profile.timeDeltas[hi]
    while (at[hi] - at[lo] > span) { if (counts(lo)) busy -= profile.timeDeltas[lo]; lo++ }
    if (busy > best) { best = busy; bestFrom = at[lo] }
  }
  return [bestFrom, bestFrom + span]
}
const totalMs = [...selfMs.values()].reduce((a, b) => a + b, 0)
const idleMs = [...selfMs].filter(([id]) => byId.get(id)!.callFrame.functionName === '(idle)').reduce((a, [, ms]) => a + ms, 0)
const busyMs = totalMs - idleMs


const within = values.within === undefined ? undefined : new RegExp(values.within)

function tally(key: (id: number) => string) {
  const sums = new Map<string, number>()
  for (const [id, ms] of selfMs) {
    const f = byId.get(id)!.callFrame
    if (f.functionName === '(idle)' || (within && !within.test(label(f)) && !within.test(packageOf(f)))) continue
    const k = key(id)
    sums.set(k, (sums.get(k) ?? 0) + ms)
  }
  return [...sums].sort((a, b) => b[1] - a[1]).slice(0, top)
}

function nearestOurs(id: number): string {
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const f = byId.get(at)!.callFrame
    if (ours(f)) return label(f)
  }
  return '(outside precall: ' + packageOf(byId.get(id)!.callFrame) + ')'
}

const print = (title: string, rows: [string, number][]) => {
  console.log(`\n${title}`)
  for (const [k, ms] of rows) console.log(`${((100 * ms) / busyMs).toFixed(1).padStart(6)} %  ${ms.toFixed(0).padStart(7)} ms  ${k}`)
}

console.log(`${(totalMs / 1000).toFixed(1)} s profiled, busy ${(busyMs / 1000).toFixed(1)} s (${((100 * busyMs) / totalMs).toFixed(0)} %); shares below are of busy time`)
print('self time by package', tally((id) => packageOf(byId.get(id)!.callFrame)))
print('self time by function', tally((id) => label(byId.get(id)!.callFrame)))
print('charged to the nearest precall frame', tally(nearestOurs))
const depth = Number(values.depth)
if (depth > 0) {
  const stack = (id: number) => {
    const frames: string[] = []
    for (let at: number | undefined = id; at !== undefined && frames.length <= depth; at = parent.get(at)) frames.push(label(byId.get(at)!.callFrame))
    return frames.join('\n              < ')
  }
  print(`stacks, ${depth} frames deep`, tally(stack))
}
