// Measures a risk-prompt sheet proposes, per hazard and five-colour level (issue 21): the hall's
// template library (`templates` topic, `template.put`), seeded for the demonstration from the
// measures Zhejiang's typhoon sheets name (boats to port, sea-farm workers ashore, scenic spots and
// coastal roads closed, geological-hazard points evacuated). Demonstration data: each hall edits its
// own (docs/command.md). A hall without a template for a hazard and level gets a single generic
// measure to edit.
import type { SheetTemplate } from '../../../common/domain.ts';

type Measures = SheetTemplate['measures'];
const TYPHOON_ORANGE: Measures = [
  { text: '渔船回港避风，渔排、海上养殖人员全部上岸', owner: '海洋渔业', hours: 6 },
  { text: '关闭滨海景区、海岛旅游和沿海绿道', owner: '文化和旅游', hours: 6 },
  { text: '地质灾害隐患点、山洪危险区人员转移到位', owner: '自然资源、乡镇', hours: 6 },
  { text: '在建工地停工，塔吊、脚手架加固', owner: '住房城乡建设', hours: 6 },
];
const TYPHOON_RED: Measures = [
  ...TYPHOON_ORANGE.map((m) => ({ ...m, hours: 3 })),
  { text: '危旧房、工棚、低洼地人员应转尽转', owner: '乡镇（街道）', hours: 3 },
  { text: '沿海道路、跨海大桥视情封闭', owner: '交通运输、公安', hours: 3 },
];

/** The demonstration's templates (typhoon, orange and red), seeded in every hall. */
export function demoTemplates(now: number): SheetTemplate[] {
  const source = '演示数据：按浙江防台风风险提示单常见措施整理，非正式文本';
  return [
    { id: 'typhoon:orange', hazard: 'typhoon', level: 'orange', measures: TYPHOON_ORANGE, feedbackHours: 6, source, updatedBy: 'seed', updatedAt: now, demo: true },
    { id: 'typhoon:red', hazard: 'typhoon', level: 'red', measures: TYPHOON_RED, feedbackHours: 3, source, updatedBy: 'seed', updatedAt: now, demo: true },
  ];
}

/** The measures for a hazard at a level: the hall's template, or one generic measure to edit. */
export function measuresFor(template: SheetTemplate | undefined): Pick<SheetTemplate, 'measures' | 'feedbackHours'> {
  return template ?? { measures: [{ text: '核查风险点并落实管控措施', owner: '属地', hours: 6 }], feedbackHours: 6 };
}
