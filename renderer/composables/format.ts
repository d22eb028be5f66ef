// Times as the hall reads them: Beijing time, the storm's date and hour.
const BJ = new Intl.DateTimeFormat('zh-CN', { timeZone: 'Asia/Shanghai', month: 'numeric', day: 'numeric', hour: '2-digit', minute: '2-digit', hour12: false });
export const beijing = (t: number | null | undefined): string => (t === null || t === undefined ? '—' : BJ.format(new Date(t)));
