import type { WriteStream } from 'node:tty'
import type { FleetStats } from './run-fleet.js'

const fmt = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e4 ? `${(n / 1e3).toFixed(1)}k` : String(Math.round(n)))

/**
 * The live status line on stderr: connections, send and acknowledgement rates, faults injected,
 * how far event time has got. Redrawn in place on a terminal; a plain line every few seconds
 * otherwise, so CI logs stay readable.
 */
export function startProgressLine(stats: FleetStats, range: { start: number; end: number }, out: NodeJS.WriteStream | WriteStream = process.stderr) {
  const tty = Boolean(out.isTTY)
  let last = { at: performance.now(), sent: 0, acked: 0 }
  let lastPrinted = 0

  function render(): string {
    const now = performance.now()
    const dt = Math.max(1e-3, (now - last.at) / 1000)
    const sentPerS = (stats.sent - last.sent) / dt
    const ackedPerS = (stats.acked - last.acked) / dt
    last = { at: now, sent: stats.sent, acked: stats.acked }
    const done = (stats.simNow - range.start) / Math.max(1, range.end - range.start)
    const sim = new Date(Math.max(range.start, stats.simNow)).toISOString().slice(0, 16).replace('T', ' ')
    return [
      `connected ${stats.connected}/${stats.devices}`,
      `sent ${fmt(sentPerS)}/s`,
      `acked ${fmt(ackedPerS)}/s`,
      `total ${fmt(stats.acked)}/${fmt(stats.sent)}`,
      stats.failed ? `failed ${fmt(stats.failed)}` : '',
      `faults ${stats.faultsStarted}/${stats.faultsTotal}`,
      `backlog ${fmt(stats.backlog)}`,
      `sim ${sim} (${Math.min(100, Math.max(0, done * 100)).toFixed(0)}%)`,
    ].filter(Boolean).join(' · ')
  }

  const timer = setInterval(() => {
    const now = performance.now()
    if (tty) out.write(`\r\x1b[2K${render()}`)
    else if (now - lastPrinted >= 5000) {
      lastPrinted = now
      out.write(`${render()}\n`)
    }
  }, 500)
  timer.unref()

  return {
    stop() {
      clearInterval(timer)
      if (tty) out.write('\r\x1b[2K')
    },
  }
}
