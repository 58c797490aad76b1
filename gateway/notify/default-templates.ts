import type { FieldSpec } from './template.js'

export const NOTIFICATION_KINDS = ['opened', 'reopened', 'appointment', 'escalated', 'resolved', 'digest'] as const
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number]

const TICKET_FIELDS = {
  customerName: true, appliance: true, deviceId: true, problem: true, severity: true, critical: true,
  reference: true, ticketId: true, status: true, appointment: true, technician: true, outcome: true,
  escalationLevel: true, detectedAt: true, unsubscribeUrl: true,
} as const satisfies FieldSpec

const DIGEST_FIELDS = {
  customerName: true, count: true, unsubscribeUrl: true,
  items: { event: true, appliance: true, deviceId: true, problem: true, reference: true, ticketId: true, appointment: true, at: true },
} as const satisfies FieldSpec

/** The fields each kind of message can show; a template naming anything else is refused. */
export function fieldsOf(kind: NotificationKind): FieldSpec {
  return kind === 'digest' ? DIGEST_FIELDS : TICKET_FIELDS
}

export type TemplateText = { subject: string; body: string }

const EN: Record<NotificationKind, TemplateText> = {
  opened: {
    subject: '{{appliance}}: {{problem}}',
    body: 'Hello {{customerName}}, your {{appliance}} told us about a problem: {{problem}}.'
      + '{{#critical}} Please switch it off now if it is safe to do so.{{/critical}}'
      + ' You do not need to call: we are arranging service and will contact you with an appointment. Reference {{reference}}.',
  },
  reopened: {
    subject: '{{appliance}}: {{problem}} is back',
    body: 'Hello {{customerName}}, the problem with your {{appliance}} has come back: {{problem}}.'
      + '{{#critical}} Please switch it off now if it is safe to do so.{{/critical}}'
      + ' We have reopened your case and will contact you with an appointment. Reference {{reference}}.',
  },
  appointment: {
    subject: 'Service visit for your {{appliance}}',
    body: 'Hello {{customerName}}, a technician{{#technician}} ({{technician}}){{/technician}} will come to look at your {{appliance}} ({{problem}})'
      + '{{#appointment}} on {{appointment}}{{/appointment}}{{^appointment}}; we will confirm the time with you{{/appointment}}. Reference {{reference}}.',
  },
  escalated: {
    subject: 'Your {{appliance}}: taking longer than we promised',
    body: 'Hello {{customerName}}, we are sorry: fixing {{problem}} on your {{appliance}} is taking longer than we promised.'
      + ' Your case now has priority and a supervisor is following it. Reference {{reference}}.',
  },
  resolved: {
    subject: 'Your {{appliance}}: {{problem}} resolved',
    body: 'Hello {{customerName}}, the problem with your {{appliance}} ({{problem}}) is resolved{{#outcome}}: {{outcome}}{{/outcome}}.'
      + ' If it comes back we will notice and get in touch. Reference {{reference}}.',
  },
  digest: {
    subject: '{{count}} updates about your appliances',
    body: 'Hello {{customerName}}, here is what happened with your appliances:\n'
      + '{{#items}}- {{event}}: {{appliance}}, {{problem}} (reference {{reference}}){{#appointment}}, visit on {{appointment}}{{/appointment}}\n{{/items}}',
  },
}

const ZH_CN: Record<NotificationKind, TemplateText> = {
  opened: {
    subject: '{{appliance}}：{{problem}}',
    body: '{{customerName}}您好，您的{{appliance}}检测到问题：{{problem}}。'
      + '{{#critical}}如能安全操作，请立即关闭电器。{{/critical}}'
      + '您无需来电，我们正在安排服务，并将与您联系预约上门时间。服务单号：{{reference}}。',
  },
  reopened: {
    subject: '{{appliance}}：{{problem}}再次出现',
    body: '{{customerName}}您好，您的{{appliance}}再次出现问题：{{problem}}。'
      + '{{#critical}}如能安全操作，请立即关闭电器。{{/critical}}'
      + '我们已重新处理您的服务单，并将与您联系预约上门时间。服务单号：{{reference}}。',
  },
  appointment: {
    subject: '{{appliance}}上门服务安排',
    body: '{{customerName}}您好，工程师{{#technician}}（{{technician}}）{{/technician}}将上门检修您的{{appliance}}（{{problem}}）'
      + '{{#appointment}}，时间：{{appointment}}{{/appointment}}{{^appointment}}，具体时间我们将与您确认{{/appointment}}。服务单号：{{reference}}。',
  },
  escalated: {
    subject: '{{appliance}}服务进度说明',
    body: '{{customerName}}您好，非常抱歉，您的{{appliance}}（{{problem}}）的处理时间超出了我们的承诺。'
      + '您的服务单已升级优先处理，并由主管跟进。服务单号：{{reference}}。',
  },
  resolved: {
    subject: '{{appliance}}：{{problem}}已解决',
    body: '{{customerName}}您好，您的{{appliance}}（{{problem}}）已处理完毕{{#outcome}}：{{outcome}}{{/outcome}}。'
      + '如问题再次出现，我们会第一时间发现并联系您。服务单号：{{reference}}。',
  },
  digest: {
    subject: '您的电器有{{count}}条服务消息',
    body: '{{customerName}}您好，以下是您的电器近期的服务消息：\n'
      + '{{#items}}- {{event}}：{{appliance}}，{{problem}}（服务单号：{{reference}}）{{#appointment}}，上门时间：{{appointment}}{{/appointment}}\n{{/items}}',
  },
}

/** Built-in templates: what a message says until an operator stores another through the API. */
export const DEFAULT_TEMPLATES: Record<string, Record<NotificationKind, TemplateText>> = { en: EN, 'zh-CN': ZH_CN }

/** Words the templates insert, per language: outcomes and, in digests, what happened. */
export const WORDS: Record<string, { outcome: Record<string, string>; event: Record<NotificationKind, string> }> = {
  en: {
    outcome: { fixed: 'fixed', replaced: 'a part was replaced', no_fault_found: 'no fault was found', customer_declined: 'service declined', self_cleared: 'the problem cleared by itself' },
    event: { opened: 'Problem found', reopened: 'Problem back', appointment: 'Visit arranged', escalated: 'Taking longer', resolved: 'Resolved', digest: 'Summary' },
  },
  zh: {
    outcome: { fixed: '已修复', replaced: '已更换部件', no_fault_found: '未发现故障', customer_declined: '您已取消服务', self_cleared: '故障已自行消除' },
    event: { opened: '发现问题', reopened: '问题再次出现', appointment: '已安排上门', escalated: '处理延迟', resolved: '已解决', digest: '汇总' },
  },
}
