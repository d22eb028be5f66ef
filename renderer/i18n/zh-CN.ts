export default {
  app: { name: '烽火', demo: '演示数据', demoTitle: '本数据目录使用内置的浙江演示场景，不是真实数据' },
  role: { globe: '态势', wall: '视频墙', calls: '一键通', board: '看板' },
  status: {
    outbox: '待报省厅', beijing: '北京', utc: 'UTC', wan: '广域网', feeds: '接入', online: '在线', total: '共',
    hall: { connecting: '连接中…', open: '已连接', closed: '与核心断开' },
    link: { unknown: '未监测', online: '正常', degraded: '降级', offline: '中断' },
    language: 'English',
  },
  kind: { 'fire-rescue': '消防救援', professional: '专业救援', social: '社会救援', aviation: '航空救援', depot: '物资储备库', drone: '无人机', vehicle: '车辆' },
  unitStatus: { standby: '待命', 'en-route': '出动', 'on-site': '到场', offline: '离线' },
  level: { province: '省', city: '市', county: '县', township: '乡镇', village: '村', team: '队伍', expert: '专家' },
  channel: { video: '视频', voip: '电话', mobile: '手机', satellite: '卫星', radio: '电台' },
  stock: { tents: '帐篷', quilts: '棉被', lifejackets: '救生衣', pumps: '排涝泵', generators: '发电机', sandbags: '沙袋' },
  globe: {
    search: '搜索队伍、城市…', legend: '图例', cities: '市级指挥中心', counties: '县（市、区）',
    members: '人数', home: '所属', status: '状态', updated: '更新', setStatus: '设置状态', flyTo: '定位', close: '关闭',
    noWebgl: '此显示器无法启动三维地球（WebGL 不可用）',
  },
  calls: { search: '搜索名称或行政区划代码', all: '全部', duty: '值班', deputy: '副班', shown: '显示 {shown} / {total} 条', none: '没有匹配的联系人' },
  board: { instructions: '上级指令', urgent: '紧急', teams: '救援力量', byStatus: '按状态', depots: '物资储备', contacts: '通讯录', places: '指挥节点', typhoons: '台风', fixes: '个定位点', total: '合计' },
  wall: { empty: '尚未配置视频源', feeds: '接入状态', noFeeds: '尚无接入（无人机、单兵、视频）' },
};
