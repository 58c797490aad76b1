import { spawn } from 'node:child_process'
import { describe, expect, it } from 'vitest'

// The demo as a newcomer runs it, in its short CI mode: its own gateway child process, the
// catalogue, a signature-checking CRM, a fleet with developing faults; all of it stopped at the end.
describe('npm run demo -- --short', () => {
  it('tells the story from fault to verified webhook and exits cleanly', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'device-sim/demo.ts', '--short'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d: Buffer) => { out += d })
    child.stderr.on('data', (d: Buffer) => { out += d })
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
    expect(code, out).toBe(0)
    const pid = Number(/gateway running \(pid (\d+)\)/.exec(out)?.[1])
    expect(pid).toBeGreaterThan(0)
    expect(() => process.kill(pid, 0), 'the gateway child is still running').toThrow()
    expect(out).toMatch(/🔎 precall detects .* opens ticket tkt_/)
    expect(out).toMatch(/📨 the CRM receives ticket\.opened for tkt_\w+; Standard Webhooks signature verified/)
    expect(out).toMatch(/☎ {2}without precall, .* precall opened the ticket .* earlier/)
    const summary = /■ (\d+) ticket\(s\) opened for (\d+) appliance\(s\); the CRM received (\d+) verified webhook\(s\)([^.;]*)/.exec(out)
    expect(summary, out).not.toBeNull()
    expect(Number(summary![1])).toBeGreaterThanOrEqual(3)
    expect(Number(summary![3])).toBeGreaterThanOrEqual(Number(summary![1]))
    expect(summary![4]).not.toMatch(/refused/)
  }, 90_000)
})
