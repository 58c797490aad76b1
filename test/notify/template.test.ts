import { describe, expect, it } from 'vitest'
import { DEFAULT_TEMPLATES, NOTIFICATION_KINDS, fieldsOf } from '../../gateway/notify/default-templates.js'
import { digestFields, ticketFields } from '../../gateway/notify/message-fields.js'
import { checkTemplate, renderText } from '../../gateway/notify/template-store.js'
import { parseTemplate, renderTemplate } from '../../gateway/notify/template.js'
import { toTicketJson } from '../../gateway/tickets/ticket-json.js'

const at = (iso: string) => new Date(iso)
const ticket = toTicketJson({
  id: 'tkt_1', deviceId: 'wm-1', customerId: 'c-1', problem: 'drain-pump', type: 'service', title: 'Drain pump clogging', source: 'detection',
  status: 'dispatched', severity: 'major', priority: 2, openedAt: at('2026-11-02T02:00:00Z'), detectedAt: at('2026-11-02T01:58:00Z'),
  slaDueAt: at('2026-11-07T02:00:00Z'), slaMs: 0, slaPausedAt: null, slaPausedMs: 0, nextEscalationAt: null, occurrences: 1,
  lastDetectedAt: at('2026-11-02T01:58:00Z'), ruleId: 'r', ruleVersion: 1, evidence: {}, predictedFailureAt: null, repeatOf: null,
  escalationLevel: 0, externalId: 'SF-1001', technician: 'Zhang San', appointmentAt: at('2026-11-03T01:00:00Z'), outcome: 'fixed',
  notifyCustomer: true, version: 3, updatedAt: at('2026-11-02T03:00:00Z'), acknowledgedAt: null, dispatchedAt: null, resolvedAt: null, closedAt: null,
})
const appliance = { deviceId: 'wm-1', name: 'Washing machine WM-8' }
const ctx = (locale: string) => ({ customerName: 'Li Wei', locale, timeZone: 'Asia/Shanghai', unsubscribeUrl: null })

describe('notification templates', () => {
  it('renders every built-in template in en and zh-CN with the ticket\'s fields', () => {
    for (const locale of ['en', 'zh-CN']) {
      for (const kind of NOTIFICATION_KINDS) {
        expect(() => checkTemplate(kind, DEFAULT_TEMPLATES[locale][kind])).not.toThrow()
      }
    }
    const en = renderText('appointment', DEFAULT_TEMPLATES.en.appointment, ticketFields(ticket, appliance, ctx('en')))
    expect(en.subject).toBe('Service visit for your Washing machine WM-8')
    expect(en.body).toBe('Hello Li Wei, a technician (Zhang San) will come to look at your Washing machine WM-8 (Drain pump clogging) on Nov 3, 2026, 9:00 AM. Reference SF-1001.')

    const zh = renderText('appointment', DEFAULT_TEMPLATES['zh-CN'].appointment, ticketFields(ticket, appliance, ctx('zh-CN')))
    expect(zh.subject).toBe('Washing machine WM-8上门服务安排')
    expect(zh.body).toContain('工程师（Zhang San）将上门检修')
    expect(zh.body).toContain('时间：2026年11月3日 09:00')
    expect(zh.body).toContain('服务单号：SF-1001')

    const resolved = renderText('resolved', DEFAULT_TEMPLATES['zh-CN'].resolved, ticketFields({ ...ticket, status: 'resolved' }, appliance, ctx('zh-CN')))
    expect(resolved.body).toContain('已处理完毕：已修复。')
    const noVisitTime = renderText('appointment', DEFAULT_TEMPLATES.en.appointment, ticketFields({ ...ticket, appointmentAt: null }, appliance, ctx('en')))
    expect(noVisitTime.body).toContain('(Drain pump clogging); we will confirm the time with you.')
  })

  it('renders a digest as one line per message it stands for', () => {
    const items = [
      { kind: 'opened', ticket, createdAt: at('2026-11-02T02:00:00Z') },
      { kind: 'resolved', ticket: { ...ticket, id: 'tkt_2', externalId: null, appointmentAt: null }, createdAt: at('2026-11-02T05:00:00Z') },
    ]
    const fields = digestFields(items, new Map([['wm-1', appliance]]), ctx('en'))
    const text = renderText('digest', DEFAULT_TEMPLATES.en.digest, fields)
    expect(text.subject).toBe('2 updates about your appliances')
    expect(text.body.split('\n')).toEqual([
      'Hello Li Wei, here is what happened with your appliances:',
      '- Problem found: Washing machine WM-8, Drain pump clogging (reference SF-1001), visit on Nov 3, 2026, 9:00 AM',
      '- Resolved: Washing machine WM-8, Drain pump clogging (reference tkt_2)',
    ])
    expect(renderText('digest', DEFAULT_TEMPLATES['zh-CN'].digest, digestFields(items, new Map([['wm-1', appliance]]), ctx('zh-CN'))).body).toContain('- 已解决：Washing machine WM-8，Drain pump clogging（服务单号：tkt_2）')
  })

  it('refuses, at save time, a template naming an unknown field, with every problem listed', () => {
    const refused = (fn: () => void) => {
      try { fn() } catch (err) { return err as { code: string; details: { problems: { path: string; message: string }[] } } }
      throw new Error('expected a refusal')
    }
    const err = refused(() => checkTemplate('opened', { subject: '{{applianse}}', body: 'Hi {{customerName}}, {{#critical}}now!{{/critical}} {{ticketNumber}}' }))
    expect(err.code).toBe('PRECALL_ERR_VALIDATION')
    expect(err.details.problems.map((p) => p.path)).toEqual(['subject', 'body'])
    expect(err.details.problems[0].message).toMatch(/^unknown field "applianse"; known: appliance, appointment,/)
    expect(err.details.problems[1].message).toMatch(/^unknown field "ticketNumber"/)

    expect(refused(() => checkTemplate('opened', { subject: '', body: '{{#critical}}now' })).details.problems[0].message).toBe('{{#critical}} is never closed')
    expect(refused(() => checkTemplate('digest', { subject: '', body: '{{items}}' })).details.problems[0].message).toContain('"items" is a list')
    expect(refused(() => checkTemplate('digest', { subject: '', body: '{{problem}}' })).details.problems[0].message).toMatch(/unknown field "problem"/)
    expect(refused(() => checkTemplate('opened', { subject: '', body: '{{problem.title}}' })).details.problems[0].message).toBe('stray "{{" or "}}"')
    expect(() => checkTemplate('digest', { subject: '', body: '{{#items}}{{problem}} for {{customerName}}{{/items}}' })).not.toThrow()
  })

  it('shows sections when set, inverted ones when not, and repeats a section per list element', () => {
    const parsed = parseTemplate('{{#a}}A{{/a}}{{^a}}no A{{/a}}|{{#list}}[{{x}}{{#y}}+{{/y}}]{{/list}}', { a: true, list: { x: true, y: true } })
    if (!parsed.ok) throw new Error(parsed.problems.join())
    expect(renderTemplate(parsed.nodes, { a: 'yes', list: [{ x: 1, y: true }, { x: 2 }] })).toBe('A|[1+][2]')
    expect(renderTemplate(parsed.nodes, { a: '', list: [] })).toBe('no A|')
    expect(Object.keys(fieldsOf('digest'))).toContain('items')
  })
})
