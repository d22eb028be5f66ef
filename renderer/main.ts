import { createPinia } from 'pinia';
import { createApp } from 'vue';
import { ROLES, type Role } from '../common/contract.ts';
import App from './App.vue';
import { initialLocale, makeI18n } from './i18n/index.ts';
import './style.css';

const q = new URLSearchParams(location.search).get('role');
const role: Role = (ROLES as readonly string[]).includes(q ?? '') ? (q as Role) : 'globe';
const locale = initialLocale();
document.documentElement.lang = locale;

createApp(App, { role }).use(createPinia()).use(makeI18n(locale)).mount('#app');
