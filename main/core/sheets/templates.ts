// Measures a risk-prompt sheet proposes, per hazard and five-colour level (issue 21): the hall's
// template library, seeded for the demonstration from the measures Zhejiang's typhoon sheets name
// (boats to port, sea-farm workers ashore, scenic spots and coastal roads closed, geological-hazard
// points evacuated). Demonstration data: each hall edits its own (docs/command.md).
import type { SheetHazard } from '../../../common/domain.ts';

export interface MeasureTemplate {
  text: string;
  owner: string;
  /** Hours after issue it is due. */
  hours: number;
}

const TYPHOON_ORANGE: MeasureTemplate[] = [
  { text: '渔船回港避风，渔排、海上养殖人员全部上岸', owner: '海洋渔业', hours: 6 },
  { text: '关闭滨海景区、海岛旅游和沿海绿道', owner: '文化和旅游', hours: 6 },
  { text: '地质灾害隐患点、山洪危险区人员转移到位', owner: '自然资源、乡镇', hours: 6 },
  { text: '在建工地停工，塔吊、脚手架加固', owner: '住房城乡建设', hours: 6 },
];
const TYPHOON_RED: MeasureTemplate[] = [
  ...TYPHOON_ORANGE.map((m) => ({ ...m, hours: 3 })),
  { text: '危旧房、工棚、低洼地人员应转尽转', owner: '乡镇（街道）', hours: 3 },
  { text: '沿海道路、跨海大桥视情封闭', owner: '交通运输、公安', hours: 3 },
];

/** The measures for a hazard at a level (orange or red); the feedback deadline in hours. */
export function measuresFor(hazard: SheetHazard, level: 'orange' | 'red'): { measures: MeasureTemplate[]; feedbackHours: number } {
  if (hazard !== 'typhoon') return { measures: [{ text: '核查风险点并落实管控措施', owner: '属地', hours: 6 }], feedbackHours: 6 };
  return level === 'red' ? { measures: TYPHOON_RED, feedbackHours: 3 } : { measures: TYPHOON_ORANGE, feedbackHours: 6 };
}
