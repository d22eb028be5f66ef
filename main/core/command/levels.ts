// Emergency response levels from the forecast (issue 21; docs/command.md). The provincial
// flood-and-typhoon plan (《浙江省防汛防台抗旱应急预案》, 浙政办发〔2020〕29号, 5.1 and 5.2) grades a typhoon
// event by the strength of the storm forecast to land in or severely affect the province: a tropical
// storm IV, a severe tropical storm III, a typhoon II, a severe typhoon or stronger I; before that,
// the marine stage (海上防台风) while a storm in the East China Sea threatens the sea areas. The hall
// proposes a level from its own threat analysis; a leader confirms it (nothing is declared by the
// machine).
import type { Analysis, Grade, Plan, PlanItem, ResponseLevel } from '../../../common/domain.ts';

/** The plan's grading: the storm's grade → the level. */
export const GRADE_LEVEL: Record<Grade, ResponseLevel | null> = { TD: null, TS: 'IV', STS: 'III', TY: 'II', STY: 'I', SuperTY: 'I' };
const GRADE_ZH: Record<Grade, string> = { TD: '热带低压', TS: '热带风暴', STS: '强热带风暴', TY: '台风', STY: '强台风', SuperTY: '超强台风' };
const RANK: Record<ResponseLevel, number> = { marine: 0, IV: 1, III: 2, II: 3, I: 4 };
export const higher = (a: ResponseLevel | null, b: ResponseLevel | null): ResponseLevel | null => (a === null ? b : b === null ? a : RANK[b] > RANK[a] ? b : a);

/** The East China Sea, roughly (the marine stage's sea areas): 23–33.5° N, 117–131° E. */
const inEastChinaSea = (lat: number, lon: number) => lat >= 23 && lat <= 33.5 && lon >= 117 && lon <= 131;

export interface Proposal {
  level: ResponseLevel;
  reason: string;
  basis: string;
}

/**
 * The level the analyses suggest for the area `inArea` (this hall's own and below), and why, in the
 * words a duty officer reads; null when no storm concerns it.
 * - a forecast landfall at a place of the area: the grade at the crossing;
 * - else force-10 winds forecast within 48 h at a place of the area (severe effect): the storm's
 *   grade now;
 * - else force-7 winds forecast or felt there, or the storm's centre in the East China Sea: the
 *   marine stage.
 */
export function proposeLevel(analyses: readonly Analysis[], inArea: (code: string) => boolean, nameOf: (code: string) => string, stormName: (id: string) => string): Proposal | null {
  let best: Proposal | null = null;
  const consider = (p: Proposal) => {
    if (!best || higher(best.level, p.level) !== best.level) best = p;
  };
  for (const a of analyses) {
    const storm = stormName(a.id);
    const basis = `typhoon:${a.id}`;
    const landfalls = a.landfalls.filter((l) => l.track !== 'observed' && l.t >= a.t && l.place !== null && inArea(l.place) && l.grade !== null && GRADE_LEVEL[l.grade] !== null);
    for (const l of landfalls) consider({ level: GRADE_LEVEL[l.grade!]!, reason: `${storm}预计以${GRADE_ZH[l.grade!]}级在${nameOf(l.place!)}附近登陆（${l.track}预报）`, basis });
    const places = a.places.filter((p) => inArea(p.code));
    const severe = places.filter((p) => p.level >= 10);
    const grade = a.centre?.grade ?? null;
    if (severe.length && grade && GRADE_LEVEL[grade])
      consider({ level: GRADE_LEVEL[grade]!, reason: `${storm}（${GRADE_ZH[grade]}）预计48小时内${nameOf(severe[0]!.code)}等${severe.length}地出现10级以上大风（严重影响）`, basis });
    const touched = places.filter((p) => p.level >= 7 || p.forceNow >= 7);
    if (touched.length) consider({ level: 'marine', reason: `${storm}预计48小时内${nameOf(touched[0]!.code)}等${touched.length}地出现7级以上大风`, basis });
    else if (a.centre && inEastChinaSea(a.centre.lat, a.centre.lon)) consider({ level: 'marine', reason: `${storm}中心位于东海海域`, basis });
  }
  return best;
}

const item = (id: string, text: string, owner: string, dueMinutes: number): PlanItem => ({ id, text, owner, dueMinutes });
/** The demonstration's checklists per level: the response actions the plan lists (5.2, 5.3), in
 *  short, as a hall would write them. Demonstration data, not the plan's text; each hall edits its own. */
export function demoPlans(now: number): Plan[] {
  const marine = [
    item('m1', '加强值班值守，带班领导在岗', '带班领导', 30),
    item('m2', '发布海上大风预警，滚动通报台风动态', '气象', 60),
    item('m3', '通知海上作业船只回港避风', '海洋渔业', 360),
    item('m4', '核查海上作业人员、渔排人员底数', '海洋渔业', 240),
  ];
  const iv = [
    ...marine.slice(0, 2),
    item('iv1', '防指成员单位进岗到位', '带班领导', 60),
    item('iv2', '向受影响市县发出风险提示单', '值班员', 120),
    item('iv3', '船只回港避风、渔排养殖人员上岸', '海洋渔业', 720),
    item('iv4', '关闭滨海景区、海岛旅游', '文化和旅游', 720),
    item('iv5', '地质灾害隐患点巡查', '自然资源', 720),
    item('iv6', '在建工地、塔吊和户外广告牌加固', '住房城乡建设', 720),
    item('iv7', '每日8时、16时报送防御工作情况', '值班员', 480),
  ];
  const iii = [
    ...iv.filter((i) => i.id !== 'iv7'),
    item('iii1', '气象、水利、自然资源联合会商研判', '带班领导', 60),
    item('iii2', '危险区域人员转移准备', '市县防指', 360),
    item('iii3', '水库预泄腾库', '水利', 720),
    item('iii4', '抢险队伍、物资预置到位', '应急管理', 360),
    item('iii5', '每6小时报送防御工作情况', '值班员', 360),
  ];
  const ii = [
    ...iii.filter((i) => i.id !== 'iii5' && i.id !== 'iii2'),
    item('ii1', '指挥长主持会商，部署防御', '指挥长', 60),
    item('ii2', '危险区域人员转移', '市县防指', 360),
    item('ii3', '停止户外集体活动，学校、幼儿园停课', '教育', 720),
    item('ii4', '抢险救援力量前置到重点县区', '应急管理', 360),
    item('ii5', '每3小时报送防御工作情况', '值班员', 180),
  ];
  const i = [
    ...ii.filter((x) => x.id !== 'ii5' && x.id !== 'ii2'),
    item('i1', '宣布进入紧急防汛期', '指挥长', 60),
    item('i2', '落实“五停”：停止户外作业、停课、停工、停业、停运', '市县防指', 360),
    item('i3', '做好“五断”应急准备：断电、断水、断路、断网、断气', '电力、通信、交通', 360),
    item('i4', '危险区域人员应转尽转', '市县防指', 360),
    item('i5', '每小时报送防御工作情况', '值班员', 60),
  ];
  const source = '演示数据：按《浙江省防汛防台抗旱应急预案》（浙政办发〔2020〕29号）5.2、5.3 应急响应行动要点整理，非预案原文';
  const plans: [ResponseLevel, PlanItem[]][] = [
    ['marine', marine],
    ['IV', iv],
    ['III', iii],
    ['II', ii],
    ['I', i],
  ];
  return plans.map(([level, items]) => ({ id: `typhoon:${level}`, hazard: 'typhoon', level, items, source, updatedBy: 'seed', updatedAt: now, demo: true }));
}
