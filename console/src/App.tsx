// The console's shell: language, theme and CSP nonce for antd's style elements,
// the session (sign-in until there is one; back to sign-in when it expires), and
// the pages an officer's roles open.
import { useEffect, useState } from 'react';
import { App as AntApp, Button, ConfigProvider, Layout, Menu, Space, Tag, Typography } from 'antd';
import zhCN from 'antd/locale/zh_CN';
import enUS from 'antd/locale/en_US';
import {
  AppstoreOutlined,
  AuditOutlined,
  DatabaseOutlined,
  EditOutlined,
  FileTextOutlined,
  HistoryOutlined,
  LogoutOutlined,
  SafetyCertificateOutlined,
  SolutionOutlined,
} from '@ant-design/icons';
import { can, expire, loadSession, onSession, signOut } from './api';
import { LangContext, translate, type Key, type Lang } from './i18n';
import type { Session } from './types';
import { SessionContext } from './session';
import { cspNonce } from './csp';
import { SignIn } from './pages/SignIn';
import { Catalog } from './pages/Catalog';
import { Matrix } from './pages/Matrix';
import { Drafts } from './pages/Drafts';
import { Versions } from './pages/Versions';
import { Applications } from './pages/Applications';
import { Grants } from './pages/Grants';
import { Audit } from './pages/Audit';
import { Receipts } from './pages/Receipts';

const LANG_KEY = 'mandate-console-lang';

interface PageDef {
  path: string;
  label: Key;
  icon: JSX.Element;
  roles: string[] | null; // null: every officer
  page: JSX.Element;
}

const PAGES: PageDef[] = [
  { path: 'catalog', label: 'catalog', icon: <DatabaseOutlined />, roles: null, page: <Catalog /> },
  { path: 'matrix', label: 'matrix', icon: <AppstoreOutlined />, roles: null, page: <Matrix /> },
  {
    path: 'drafts',
    label: 'drafts',
    icon: <EditOutlined />,
    roles: ['policy_editor', 'policy_approver', 'platform_admin'],
    page: <Drafts />,
  },
  { path: 'versions', label: 'versions', icon: <HistoryOutlined />, roles: null, page: <Versions /> },
  { path: 'applications', label: 'applications', icon: <SolutionOutlined />, roles: null, page: <Applications /> },
  { path: 'grants', label: 'grants', icon: <SafetyCertificateOutlined />, roles: null, page: <Grants /> },
  { path: 'audit', label: 'audit', icon: <AuditOutlined />, roles: ['auditor', 'platform_admin'], page: <Audit /> },
  {
    path: 'receipts',
    label: 'receipts',
    icon: <FileTextOutlined />,
    roles: ['resident_service', 'auditor', 'platform_admin'],
    page: <Receipts />,
  },
];

function pathPage(): string {
  const rest = window.location.pathname.replace(/^\/console\/?/, '').split('/')[0];
  return rest || '';
}

export function Root() {
  const [lang, setLang] = useState<Lang>(() => (localStorage.getItem(LANG_KEY) === 'en' ? 'en' : 'zh'));
  const nonce = cspNonce;
  useEffect(() => {
    localStorage.setItem(LANG_KEY, lang);
    document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
    document.title = translate(lang, 'title');
  }, [lang]);
  return (
    <LangContext.Provider value={lang}>
      <ConfigProvider
        locale={lang === 'zh' ? zhCN : enUS}
        csp={nonce ? { nonce } : undefined}
        theme={{ token: { colorPrimary: '#1d39c4', borderRadius: 4 } }}
      >
        <AntApp>
          <Shell lang={lang} setLang={setLang} />
        </AntApp>
      </ConfigProvider>
    </LangContext.Provider>
  );
}

function Shell({ lang, setLang }: { lang: Lang; setLang: (l: Lang) => void }) {
  const [session, setSession] = useState<Session | null>(() => loadSession());
  const [reason, setReason] = useState<string | undefined>();
  const [page, setPage] = useState(pathPage);
  const t = (k: Key, p?: Record<string, string | number>) => translate(lang, k, p);

  useEffect(
    () =>
      onSession((s, why) => {
        setSession(s);
        setReason(why);
      }),
    [],
  );
  // The session ends at its expiry even when nothing is clicked.
  useEffect(() => {
    if (!session) return;
    const ms = Date.parse(session.expiresAt) - Date.now();
    const timer = window.setTimeout(() => expire('SESSION_EXPIRED'), Math.max(0, Math.min(ms, 2 ** 31 - 1)));
    return () => window.clearTimeout(timer);
  }, [session]);
  useEffect(() => {
    const pop = () => setPage(pathPage());
    window.addEventListener('popstate', pop);
    return () => window.removeEventListener('popstate', pop);
  }, []);

  const langButton = (
    <Button size="small" onClick={() => setLang(lang === 'zh' ? 'en' : 'zh')} data-testid="lang">
      {t('language')}
    </Button>
  );
  if (!session) {
    return <SignIn reason={reason} langButton={langButton} />;
  }
  const open = PAGES.filter((p) => p.roles === null || can(session, ...p.roles));
  const current = open.find((p) => p.path === page) ?? open[0];
  const go = (path: string) => {
    window.history.pushState(null, '', `/console/${path}`);
    setPage(path);
  };
  return (
    <SessionContext.Provider value={session}>
    <Layout style={{ minHeight: '100vh' }}>
      <Layout.Header style={{ display: 'flex', alignItems: 'center', paddingInline: 20 }}>
        <span className="brand">{t('title')}</span>
        <div style={{ flex: 1 }} />
        <Space size="middle">
          <Typography.Text style={{ color: '#fff' }} data-testid="officer">
            {session.officer} · {session.agency}
          </Typography.Text>
          {session.roles.map((r) => (
            <Tag key={r} color="geekblue">
              {r}
            </Tag>
          ))}
          {langButton}
          <Button size="small" icon={<LogoutOutlined />} onClick={() => void signOut()} data-testid="sign-out">
            {t('signOut')}
          </Button>
        </Space>
      </Layout.Header>
      <Layout>
        <Layout.Sider width={200} theme="light">
          <Menu
            mode="inline"
            selectedKeys={[current.path]}
            onClick={(e) => go(e.key)}
            items={open.map((p) => ({ key: p.path, icon: p.icon, label: t(p.label) }))}
            style={{ height: '100%' }}
          />
        </Layout.Sider>
        <Layout.Content style={{ padding: 20, overflow: 'auto' }} key={`${current.path}-${session.officer}`}>
          <Typography.Title level={4} style={{ marginTop: 0 }}>
            {t(current.label)}
          </Typography.Title>
          {current.page}
        </Layout.Content>
      </Layout>
    </Layout>
    </SessionContext.Provider>
  );
}
