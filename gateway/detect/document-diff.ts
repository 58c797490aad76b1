export type DocumentChange = { path: string; from?: unknown; to?: unknown }

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** What changed between two rule versions, as JSON paths (`when.of[1].value`) with old and new values. */
export function diffDocuments(a: unknown, b: unknown, path = ''): DocumentChange[] {
  if (Array.isArray(a) && Array.isArray(b)) {
    const out: DocumentChange[] = []
    for (let i = 0; i < Math.max(a.length, b.length); i++) out.push(...diffDocuments(a[i], b[i], `${path}[${i}]`))
    return out
  }
  if (isObject(a) && isObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()
    return keys.flatMap((k) => diffDocuments(a[k], b[k], path ? `${path}.${k}` : k))
  }
  if (JSON.stringify(a) === JSON.stringify(b)) return []
  return [{ path: path || '(document)', ...(a !== undefined ? { from: a } : {}), ...(b !== undefined ? { to: b } : {}) }]
}
