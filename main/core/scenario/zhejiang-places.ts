// Facts for the embedded demonstration scenario: Zhejiang's 11 prefecture-level cities and its
// 90 county-level divisions, with GB/T 2260 codes (as in force since the 2021 Hangzhou and 2019
// Longgang changes) and the approximate coordinates of each government seat (to about 0.01°).
// `coastal` marks divisions on the open sea or Hangzhou Bay: typhoon defence plans treat them first.
export interface CityFact {
  code: string;
  zh: string;
  en: string;
  lat: number;
  lon: number;
  coastal: boolean;
  /** Resident population, millions (2020 census), used to share teams between cities. */
  pop: number;
}
export interface CountyFact {
  code: string;
  zh: string;
  en: string;
  lat: number;
  lon: number;
  coastal: boolean;
}

export const PROVINCE = { code: '330000', zh: '浙江省', en: 'Zhejiang', hallZh: '浙江省应急指挥中心', hallEn: 'Zhejiang Provincial Emergency Command Center', lat: 30.2875, lon: 120.1536 };

export const CITIES: readonly CityFact[] = [
  { code: '330100', zh: '杭州市', en: 'Hangzhou', lat: 30.274, lon: 120.155, coastal: false, pop: 11.94 },
  { code: '330200', zh: '宁波市', en: 'Ningbo', lat: 29.868, lon: 121.544, coastal: true, pop: 9.4 },
  { code: '330300', zh: '温州市', en: 'Wenzhou', lat: 27.994, lon: 120.699, coastal: true, pop: 9.57 },
  { code: '330400', zh: '嘉兴市', en: 'Jiaxing', lat: 30.746, lon: 120.756, coastal: true, pop: 5.4 },
  { code: '330500', zh: '湖州市', en: 'Huzhou', lat: 30.894, lon: 120.087, coastal: false, pop: 3.37 },
  { code: '330600', zh: '绍兴市', en: 'Shaoxing', lat: 30.03, lon: 120.58, coastal: true, pop: 5.27 },
  { code: '330700', zh: '金华市', en: 'Jinhua', lat: 29.079, lon: 119.647, coastal: false, pop: 7.05 },
  { code: '330800', zh: '衢州市', en: 'Quzhou', lat: 28.97, lon: 118.859, coastal: false, pop: 2.28 },
  { code: '330900', zh: '舟山市', en: 'Zhoushan', lat: 29.985, lon: 122.207, coastal: true, pop: 1.16 },
  { code: '331000', zh: '台州市', en: 'Taizhou', lat: 28.656, lon: 121.421, coastal: true, pop: 6.62 },
  { code: '331100', zh: '丽水市', en: 'Lishui', lat: 28.467, lon: 119.923, coastal: false, pop: 2.51 },
];

const c = (code: string, zh: string, en: string, lat: number, lon: number, coastal = false): CountyFact => ({ code, zh, en, lat, lon, coastal });

export const COUNTIES: readonly CountyFact[] = [
  // 杭州市 Hangzhou
  c('330102', '上城区', 'Shangcheng', 30.242, 120.169),
  c('330105', '拱墅区', 'Gongshu', 30.32, 120.142),
  c('330106', '西湖区', 'Xihu', 30.259, 120.13),
  c('330108', '滨江区', 'Binjiang', 30.208, 120.212),
  c('330109', '萧山区', 'Xiaoshan', 30.163, 120.264),
  c('330110', '余杭区', 'Yuhang', 30.273, 119.979),
  c('330111', '富阳区', 'Fuyang', 30.049, 119.96),
  c('330112', '临安区', "Lin'an", 30.234, 119.725),
  c('330113', '临平区', 'Linping', 30.419, 120.3),
  c('330114', '钱塘区', 'Qiantang', 30.322, 120.493, true),
  c('330122', '桐庐县', 'Tonglu', 29.797, 119.691),
  c('330127', '淳安县', "Chun'an", 29.609, 119.042),
  c('330182', '建德市', 'Jiande', 29.475, 119.281),
  // 宁波市 Ningbo
  c('330203', '海曙区', 'Haishu', 29.859, 121.551),
  c('330205', '江北区', 'Jiangbei', 29.887, 121.555),
  c('330206', '北仑区', 'Beilun', 29.899, 121.844, true),
  c('330211', '镇海区', 'Zhenhai', 29.949, 121.716, true),
  c('330212', '鄞州区', 'Yinzhou', 29.817, 121.547, true),
  c('330213', '奉化区', 'Fenghua', 29.655, 121.407, true),
  c('330225', '象山县', 'Xiangshan', 29.477, 121.869, true),
  c('330226', '宁海县', 'Ninghai', 29.288, 121.43, true),
  c('330281', '余姚市', 'Yuyao', 30.037, 121.155, true),
  c('330282', '慈溪市', 'Cixi', 30.17, 121.266, true),
  // 温州市 Wenzhou
  c('330302', '鹿城区', 'Lucheng', 28.015, 120.655),
  c('330303', '龙湾区', 'Longwan', 27.913, 120.811, true),
  c('330304', '瓯海区', 'Ouhai', 27.967, 120.637),
  c('330305', '洞头区', 'Dongtou', 27.836, 121.157, true),
  c('330324', '永嘉县', 'Yongjia', 28.153, 120.692),
  c('330326', '平阳县', 'Pingyang', 27.662, 120.566, true),
  c('330327', '苍南县', 'Cangnan', 27.518, 120.426, true),
  c('330328', '文成县', 'Wencheng', 27.787, 120.092),
  c('330329', '泰顺县', 'Taishun', 27.557, 119.718),
  c('330381', '瑞安市', "Rui'an", 27.779, 120.655, true),
  c('330382', '乐清市', 'Yueqing', 28.113, 120.983, true),
  c('330383', '龙港市', 'Longgang', 27.578, 120.553, true),
  // 嘉兴市 Jiaxing
  c('330402', '南湖区', 'Nanhu', 30.747, 120.784),
  c('330411', '秀洲区', 'Xiuzhou', 30.764, 120.709),
  c('330421', '嘉善县', 'Jiashan', 30.831, 120.926),
  c('330424', '海盐县', 'Haiyan', 30.526, 120.946, true),
  c('330481', '海宁市', 'Haining', 30.51, 120.681, true),
  c('330482', '平湖市', 'Pinghu', 30.676, 121.016, true),
  c('330483', '桐乡市', 'Tongxiang', 30.63, 120.565),
  // 湖州市 Huzhou
  c('330502', '吴兴区', 'Wuxing', 30.857, 120.186),
  c('330503', '南浔区', 'Nanxun', 30.85, 120.418),
  c('330521', '德清县', 'Deqing', 30.543, 119.977),
  c('330522', '长兴县', 'Changxing', 31.027, 119.911),
  c('330523', '安吉县', 'Anji', 30.638, 119.68),
  // 绍兴市 Shaoxing
  c('330602', '越城区', 'Yuecheng', 30.0, 120.582),
  c('330603', '柯桥区', 'Keqiao', 30.083, 120.495),
  c('330604', '上虞区', 'Shangyu', 30.033, 120.868, true),
  c('330624', '新昌县', 'Xinchang', 29.5, 120.904),
  c('330681', '诸暨市', 'Zhuji', 29.713, 120.246),
  c('330683', '嵊州市', 'Shengzhou', 29.561, 120.831),
  // 金华市 Jinhua
  c('330702', '婺城区', 'Wucheng', 29.087, 119.571),
  c('330703', '金东区', 'Jindong', 29.099, 119.693),
  c('330723', '武义县', 'Wuyi', 28.893, 119.816),
  c('330726', '浦江县', 'Pujiang', 29.453, 119.892),
  c('330727', '磐安县', "Pan'an", 29.054, 120.45),
  c('330781', '兰溪市', 'Lanxi', 29.208, 119.46),
  c('330782', '义乌市', 'Yiwu', 29.306, 120.075),
  c('330783', '东阳市', 'Dongyang', 29.29, 120.242),
  c('330784', '永康市', 'Yongkang', 28.888, 120.047),
  // 衢州市 Quzhou
  c('330802', '柯城区', 'Kecheng', 28.969, 118.871),
  c('330803', '衢江区', 'Qujiang', 28.98, 118.957),
  c('330822', '常山县', 'Changshan', 28.901, 118.511),
  c('330824', '开化县', 'Kaihua', 29.137, 118.415),
  c('330825', '龙游县', 'Longyou', 29.028, 119.172),
  c('330881', '江山市', 'Jiangshan', 28.737, 118.627),
  // 舟山市 Zhoushan
  c('330902', '定海区', 'Dinghai', 30.02, 122.107, true),
  c('330903', '普陀区', 'Putuo', 29.949, 122.302, true),
  c('330921', '岱山县', 'Daishan', 30.244, 122.205, true),
  c('330922', '嵊泗县', 'Shengsi', 30.725, 122.452, true),
  // 台州市 Taizhou
  c('331002', '椒江区', 'Jiaojiang', 28.673, 121.443, true),
  c('331003', '黄岩区', 'Huangyan', 28.65, 121.262),
  c('331004', '路桥区', 'Luqiao', 28.582, 121.365, true),
  c('331022', '三门县', 'Sanmen', 29.105, 121.395, true),
  c('331023', '天台县', 'Tiantai', 29.144, 121.007),
  c('331024', '仙居县', 'Xianju', 28.847, 120.728),
  c('331081', '温岭市', 'Wenling', 28.372, 121.386, true),
  c('331082', '临海市', 'Linhai', 28.858, 121.145, true),
  c('331083', '玉环市', 'Yuhuan', 28.136, 121.232, true),
  // 丽水市 Lishui
  c('331102', '莲都区', 'Liandu', 28.446, 119.913),
  c('331121', '青田县', 'Qingtian', 28.14, 120.29),
  c('331122', '缙云县', 'Jinyun', 28.659, 120.092),
  c('331123', '遂昌县', 'Suichang', 28.593, 119.276),
  c('331124', '松阳县', 'Songyang', 28.449, 119.482),
  c('331125', '云和县', 'Yunhe', 28.116, 119.573),
  c('331126', '庆元县', 'Qingyuan', 27.619, 119.063),
  c('331127', '景宁畲族自治县', 'Jingning', 27.974, 119.635),
  c('331181', '龙泉市', 'Longquan', 28.075, 119.141),
];

/** The city a county belongs to: GB/T 2260 codes share their first four digits. */
export function cityOf(countyCode: string): string {
  return countyCode.slice(0, 4) + '00';
}

/** Rescue forces by kind: the province's published counts (Zhejiang emergency management). */
export const TEAM_COUNTS = { 'fire-rescue': 132, professional: 188, social: 248, aviation: 13 } as const;
