/**
 * A deliberately small template language, checkable at save time: `{{field}}` inserts a value,
 * `{{#field}}…{{/field}}` shows its inside when the field is set (and repeats it for each element of
 * a list, whose fields are then in scope), `{{^field}}…{{/field}}` when it is not. No expressions,
 * no partials, no HTML escaping: messages are plain text.
 */
export type TemplateValue = string | number | boolean | null | undefined | TemplateFields[]
export type TemplateFields = { [name: string]: TemplateValue }
/** Which fields a template may name: a field that is a list names the fields of its elements. */
export type FieldSpec = { [name: string]: true | FieldSpec }

type Node =
  | { type: 'text'; text: string }
  | { type: 'field'; name: string }
  | { type: 'section'; name: string; inverted: boolean; children: Node[] }

const TAG = /\{\{\s*([#^/]?)\s*([A-Za-z][A-Za-z0-9_]*)?\s*\}\}/g

export type ParseResult = { ok: true; nodes: Node[] } | { ok: false; problems: string[] }

/** Parses and checks a template against the fields it may use; every problem is reported at once. */
export function parseTemplate(source: string, fields: FieldSpec): ParseResult {
  const problems: string[] = []
  const root: Node[] = []
  const stack: { name: string; parent: Node[]; scopes: FieldSpec[] }[] = []
  let children = root
  let scopes: FieldSpec[] = [fields]
  let last = 0
  for (const m of source.matchAll(TAG)) {
    if (m.index > last) children.push({ type: 'text', text: source.slice(last, m.index) })
    last = m.index + m[0].length
    const [, sigil, name] = m
    if (!name) { problems.push(`empty tag ${m[0]}`); continue }
    if (sigil === '/') {
      const open = stack.pop()
      if (!open || open.name !== name) { problems.push(`{{/${name}}} closes ${open ? `{{#${open.name}}}` : 'nothing'}`); if (open) stack.push(open); continue }
      children = open.parent
      scopes = open.scopes
      continue
    }
    const spec = scopes.find((s) => name in s)?.[name]
    if (spec === undefined) problems.push(`unknown field "${name}"; known: ${[...new Set(scopes.flatMap(Object.keys))].sort().join(', ')}`)
    if (!sigil) {
      if (typeof spec === 'object') problems.push(`"${name}" is a list: use {{#${name}}}…{{/${name}}}`)
      children.push({ type: 'field', name })
      continue
    }
    const section: Node = { type: 'section', name, inverted: sigil === '^', children: [] }
    children.push(section)
    stack.push({ name, parent: children, scopes })
    children = section.children
    if (typeof spec === 'object' && sigil === '#') scopes = [spec, ...scopes]
  }
  if (last < source.length) children.push({ type: 'text', text: source.slice(last) })
  for (const open of stack) problems.push(`{{#${open.name}}} is never closed`)
  if (/\{\{|\}\}/.test(source.replace(TAG, ''))) problems.push('stray "{{" or "}}"')
  return problems.length ? { ok: false, problems } : { ok: true, nodes: root }
}

export function renderTemplate(nodes: Node[], fields: TemplateFields): string {
  return renderNodes(nodes, [fields])
}

function renderNodes(nodes: Node[], scopes: TemplateFields[]): string {
  let out = ''
  for (const node of nodes) {
    if (node.type === 'text') { out += node.text; continue }
    const value = scopes.find((s) => node.name in s)?.[node.name]
    if (node.type === 'field') { out += Array.isArray(value) || value === null || value === undefined ? '' : String(value); continue }
    const set = Array.isArray(value) ? value.length > 0 : value !== null && value !== undefined && value !== false && value !== ''
    if (node.inverted) { if (!set) out += renderNodes(node.children, scopes); continue }
    if (!set) continue
    if (Array.isArray(value)) for (const item of value) out += renderNodes(node.children, [item, ...scopes])
    else out += renderNodes(node.children, scopes)
  }
  return out
}
