import type { RunRow } from './report.js'

type Row = Pick<RunRow, 'system' | 'qos' | 'devices' | 'sustainedPerSecond'>

const PANEL = { width: 420, height: 300, left: 64, right: 32, top: 40, bottom: 44 }
const LEGEND_HEIGHT = 22
// One colour per system, in the order systems appear in the run; enough for every system the bench knows.
const COLOURS = ['#6b7280', '#2563eb', '#0891b2', '#d97706', '#dc2626', '#7c3aed']

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
const thousands = (n: number) => (n >= 1000 ? `${n / 1000}k` : String(n))

/** A round step for about five gridlines up to `max`. */
function gridStep(max: number): number {
  const raw = max / 5
  const magnitude = 10 ** Math.floor(Math.log10(raw))
  return [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw)!
}

/**
 * Sustained readings/s against connected devices, one panel per QoS and one line per system, as
 * a self-contained SVG (GitHub renders it in the README). Fleet sizes are evenly spaced, as the
 * run measures only a few; the y axis starts at zero so heights compare.
 */
export function renderThroughputChart(rows: Row[], title: string): string {
  const systems = [...new Set(rows.map((r) => r.system))]
  const fleets = [...new Set(rows.map((r) => r.devices))].sort((a, b) => a - b)
  const qosList = [...new Set(rows.map((r) => r.qos))].sort((a, b) => b - a)
  const step = gridStep(Math.max(1, ...rows.map((r) => r.sustainedPerSecond)))
  const top = step * Math.ceil(Math.max(1, ...rows.map((r) => r.sustainedPerSecond)) / step)
  const plotW = PANEL.width - PANEL.left - PANEL.right
  const plotH = PANEL.height - PANEL.top - PANEL.bottom
  const x = (i: number) => PANEL.left + (fleets.length === 1 ? plotW / 2 : (i * plotW) / (fleets.length - 1))
  const y = (v: number) => PANEL.top + plotH - (v / top) * plotH

  const width = PANEL.width * qosList.length
  // Entries laid out left to right, wrapping, by an estimate of their text's width.
  let at = 8, line = 0
  const legend = systems.map((system, s) => {
    const entry = 16 + system.length * 6 + 20
    if (at + entry > width && at > 8) { at = 8; line++ }
    const svg = `<rect x="${at}" y="${6 + line * 16}" width="12" height="4" fill="${COLOURS[s % COLOURS.length]}"/><text x="${at + 16}" y="${12 + line * 16}">${esc(system)}</text>`
    at += entry
    return svg
  })
  const legendHeight = LEGEND_HEIGHT + line * 16

  const panels = qosList.map((qos, p) => {
    const parts: string[] = [`<g transform="translate(${p * PANEL.width},${legendHeight})">`]
    parts.push(`<text x="${PANEL.left + plotW / 2}" y="${PANEL.top - 14}" text-anchor="middle" font-weight="600">QoS ${qos}</text>`)
    for (let v = 0; v <= top; v += step) {
      parts.push(`<line x1="${PANEL.left}" x2="${PANEL.left + plotW}" y1="${y(v)}" y2="${y(v)}" stroke="#e5e7eb"/>`)
      parts.push(`<text x="${PANEL.left - 6}" y="${y(v) + 4}" text-anchor="end">${thousands(v)}</text>`)
    }
    fleets.forEach((d, i) => parts.push(`<text x="${x(i)}" y="${PANEL.top + plotH + 18}" text-anchor="middle">${d.toLocaleString('en-US')}</text>`))
    parts.push(`<text x="${PANEL.left + plotW / 2}" y="${PANEL.height - 6}" text-anchor="middle">connected devices</text>`)
    parts.push(`<text transform="translate(14,${PANEL.top + plotH / 2}) rotate(-90)" text-anchor="middle">sustained readings/s</text>`)
    systems.forEach((system, s) => {
      const points = fleets.flatMap((d, i) => {
        const r = rows.find((row) => row.system === system && row.qos === qos && row.devices === d)
        return r ? [[x(i), y(r.sustainedPerSecond)] as const] : []
      })
      if (points.length === 0) return
      parts.push(`<polyline fill="none" stroke="${COLOURS[s % COLOURS.length]}" stroke-width="2" points="${points.map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`).join(' ')}"/>`)
      for (const [a, b] of points) parts.push(`<circle cx="${a.toFixed(1)}" cy="${b.toFixed(1)}" r="3" fill="${COLOURS[s % COLOURS.length]}"/>`)
    })
    parts.push('</g>')
    return parts.join('\n')
  })

  const height = legendHeight + PANEL.height + 18
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="11" fill="#111827">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    ...legend,
    ...panels,
    `<text x="${width / 2}" y="${height - 4}" text-anchor="middle" fill="#4b5563">${esc(title)}</text>`,
    '</svg>',
    '',
  ].join('\n')
}

/** The line under the chart: when and on what the run was measured. */
export function chartTitle(run: { at: string; machine: { cpus: number; cpuModel: string; node: string } }): string {
  return `npm run bench, ${run.at.slice(0, 10)}: ${run.machine.cpus} × ${run.machine.cpuModel}, Node ${run.machine.node}, load generator on the same machine`
}
