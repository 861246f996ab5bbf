// Sign-in: the demo officers (development mode only: the list is a 404
// otherwise) and a credential field for a token or an officer API key.
import { useEffect, useState } from 'react';
import { Alert, Button, Card, Divider, Form, Input, List, Space, Tag, Typography } from 'antd';
import { UserOutlined } from '@ant-design/icons';
import { ApiError, demoOfficers, signInDemo, signInWithCredential } from '../api';
import { useT } from '../i18n';
import type { DemoOfficer } from '../types';

export function SignIn({ reason, langButton }: { reason?: string; langButton: JSX.Element }) {
  const t = useT();
  const [demo, setDemo] = useState<DemoOfficer[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);

  useEffect(() => {
    demoOfficers()
      .then(setDemo)
      .catch(() => setDemo(null));
  }, []);

  const run = async (who: string, fn: () => Promise<unknown>) => {
    setBusy(who);
    setError(null);
    try {
      await fn();
    } catch (e) {
      setError(e instanceof ApiError ? `${e.code}: ${e.message}` : String(e));
    } finally {
      setBusy(null);
    }
  };

  return (
    <div style={{ display: 'flex', justifyContent: 'center', padding: '48px 16px', background: '#f0f2f5', minHeight: '100vh' }}>
      <Card
        title={t('signInTitle')}
        extra={langButton}
        style={{ width: 560, alignSelf: 'flex-start' }}
        data-testid="sign-in"
      >
        {(reason === 'SESSION_EXPIRED' || reason === 'UNAUTHENTICATED') && (
          <Alert type="warning" showIcon message={t('sessionExpired')} style={{ marginBottom: 16 }} data-testid="expired" />
        )}
        {error && <Alert type="error" showIcon message={error} style={{ marginBottom: 16 }} data-testid="sign-in-error" />}
        {demo && demo.length > 0 && (
          <>
            <Typography.Text type="secondary">{t('demoHint')}</Typography.Text>
            <List
              size="small"
              header={<b>{t('demoOfficers')}</b>}
              dataSource={demo}
              renderItem={(o) => (
                <List.Item
                  actions={[
                    <Button
                      key="in"
                      type="primary"
                      size="small"
                      loading={busy === o.officer}
                      data-testid={`demo-${o.officer}`}
                      onClick={() => run(o.officer, () => signInDemo(o.officer))}
                    >
                      {t('signIn')}
                    </Button>,
                  ]}
                >
                  <Space>
                    <UserOutlined />
                    <span>{o.label}</span>
                    {o.roles.map((r) => (
                      <Tag key={r}>{r}</Tag>
                    ))}
                  </Space>
                </List.Item>
              )}
            />
            <Divider />
          </>
        )}
        <Form layout="vertical" onFinish={(v: { credential: string }) => run('credential', () => signInWithCredential(v.credential.trim()))}>
          <Form.Item
            name="credential"
            label={t('credential')}
            extra={t('credentialHint')}
            rules={[{ required: true, whitespace: true, message: t('credentialRequired') }]}
          >
            <Input.Password autoComplete="off" data-testid="credential" />
          </Form.Item>
          <Button type="primary" htmlType="submit" loading={busy === 'credential'} data-testid="credential-sign-in">
            {t('signIn')}
          </Button>
        </Form>
      </Card>
    </div>
  );
}
