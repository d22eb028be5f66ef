import { createI18n } from 'vue-i18n';
import en from './en.ts';
import zh from './zh-CN.ts';

export type Locale = 'zh-CN' | 'en';

export function makeI18n(locale: Locale) {
  // Chinese first: the hall reads Chinese; English for liaison officers and visitors.
  return createI18n({ legacy: false, locale, fallbackLocale: 'zh-CN', messages: { 'zh-CN': zh, en } });
}

export function initialLocale(): Locale {
  const q = new URLSearchParams(location.search).get('lang');
  if (q === 'en' || q === 'zh-CN') return q;
  return localStorage.getItem('beacon.lang') === 'en' ? 'en' : 'zh-CN';
}
