// Secret files as applications write them: comments, every quoting style, multi-line values and
// unicode, with the values each must parse to.
export const DOTENV = `# Database settings (kept as is)
export DB_HOST=db.internal
DB_PASSWORD='s3cr3t p@ss # not a comment'
API_TOKEN="tök-ünïcødé-密码-🔑"   # trailing comment
PRIVATE_KEY="-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASC
-----END PRIVATE KEY-----"
QUOTED="say \\"hi\\" to C:\\\\temp"
PLAIN=unquoted value here # comment

EMPTY=
`;

export const DOTENV_VALUES: Record<string, string> = {
  DB_HOST: 'db.internal',
  DB_PASSWORD: 's3cr3t p@ss # not a comment',
  API_TOKEN: 'tök-ünïcødé-密码-🔑',
  PRIVATE_KEY: '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----',
  QUOTED: 'say "hi" to C:\\temp',
  PLAIN: 'unquoted value here',
  EMPTY: '',
};

export const JSON_TEXT = `{
  // settings for the billing service
  "service": "billing-svc",
  "db": {
    "user": "app",
    "password": "pä\\"ss\\nwörd"  /* block comment */
  },
  "servers": [ { "token": "tok-一二三" }, { "token": "tok-🔑" } ],
  "port": 5432
}
`;

export const JSON_VALUES: Record<string, string> = {
  service: 'billing-svc',
  'db.user': 'app',
  'db.password': 'pä"ss\nwörd',
  'servers[0].token': 'tok-一二三',
  'servers[1].token': 'tok-🔑',
};

export const YAML_TEXT = `# billing service
service: billing-svc
db:
  user: app # the login
  password: "dö\\"uble"
  single: 'sin''gle'
certificate: |
  -----BEGIN CERTIFICATE-----
  MIIB ünïcødé
  -----END CERTIFICATE-----
motto: >-
  folded text that is
  written on two lines
tokens:
  - plain-token-一
  - "quoted-🔑"
`;

export const YAML_VALUES: Record<string, string> = {
  service: 'billing-svc',
  'db.user': 'app',
  'db.password': 'dö"uble',
  'db.single': "sin'gle",
  certificate: '-----BEGIN CERTIFICATE-----\nMIIB ünïcødé\n-----END CERTIFICATE-----\n',
  motto: 'folded text that is written on two lines',
  'tokens[0]': 'plain-token-一',
  'tokens[1]': 'quoted-🔑',
};
