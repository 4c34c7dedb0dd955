// node-oidc-provider 9 as the peer bench/peer_bench.py measures TokenIDP against.
//
// One client (client_secret_basic, client_credentials, two scopes) receiving RFC 9068 JWT
// access tokens signed with the one private JWK the driver hands over (RS256 or ES256), on
// 127.0.0.1:PEER_PORT, in production mode only. PEER_WORKERS=1 serves from this process;
// more forks a cluster of that many workers sharing the port (node's `cluster` module).
//
// Environment (all set by the driver): NODE_ENV=production, PEER_PORT, PEER_WORKERS,
// PEER_SIGNING_JWK_FILE (a private JWK with kid and alg), PEER_ISSUER, PEER_AUDIENCE,
// PEER_CLIENT_ID, PEER_CLIENT_SECRET, PEER_SCOPES (space-separated).
import cluster from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

import Provider, { errors } from 'oidc-provider';

const ACCESS_TOKEN_TTL_SECONDS = 3600; // TokenIDP's default AccessTokenLifetime
// A resource indicator must be an absolute URI (RFC 8707 §2); every token defaults to it.
const RESOURCE = 'urn:tokenidp-bench:resource';

function refuse(message) {
  console.error(`peer: refusing to start: ${message}`);
  process.exit(2);
}

function required(name) {
  const value = process.env[name];
  if (!value) refuse(`${name} is not set`);
  return value;
}

if (process.env.NODE_ENV !== 'production') {
  refuse('NODE_ENV must be production (the peer is measured as it is deployed)');
}

const port = Number(required('PEER_PORT'));
const workers = Number(process.env.PEER_WORKERS ?? '1');
if (!Number.isInteger(workers) || workers < 1) refuse('PEER_WORKERS must be a whole number >= 1');

function buildProvider() {
  const signingKey = JSON.parse(readFileSync(required('PEER_SIGNING_JWK_FILE'), 'utf8'));
  if (!signingKey.kid || !['RS256', 'ES256'].includes(signingKey.alg)) {
    refuse('the signing JWK needs a kid and an alg of RS256 or ES256');
  }
  const scope = required('PEER_SCOPES');
  const resourceServer = {
    scope,
    audience: required('PEER_AUDIENCE'),
    accessTokenTTL: ACCESS_TOKEN_TTL_SECONDS,
    accessTokenFormat: 'jwt',
    jwt: { sign: { alg: signingKey.alg, kid: signingKey.kid } },
  };

  return new Provider(required('PEER_ISSUER'), {
    clients: [
      {
        client_id: required('PEER_CLIENT_ID'),
        client_secret: required('PEER_CLIENT_SECRET'),
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        scope,
      },
    ],
    clientDefaults: { id_token_signed_response_alg: signingKey.alg },
    jwks: { keys: [signingKey] },
    scopes: scope.split(' '),
    // The same paths as TokenIDP, so one wrk script serves both.
    routes: { token: '/connect/token', jwks: '/.well-known/jwks.json' },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    ttl: { ClientCredentials: ACCESS_TOKEN_TTL_SECONDS },
    features: {
      clientCredentials: { enabled: true },
      devInteractions: { enabled: false },
      // client_credentials tokens are JWTs only when issued for a resource server whose
      // accessTokenFormat is 'jwt': default every request to ours.
      resourceIndicators: {
        enabled: true,
        defaultResource: () => RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, indicator) => {
          if (indicator !== RESOURCE) throw new errors.InvalidTarget();
          return resourceServer;
        },
      },
    },
  });
}

function serve() {
  const provider = buildProvider();
  const server = createServer(provider.callback());
  server.listen(port, '127.0.0.1');
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}

if (workers > 1 && cluster.isPrimary) {
  for (let index = 0; index < workers; index += 1) cluster.fork();
  let stopping = false;
  cluster.on('exit', (worker, code) => {
    if (!stopping) refuse(`worker ${worker.process.pid} exited with ${code}`);
  });
  process.on('SIGTERM', () => {
    stopping = true;
    for (const worker of Object.values(cluster.workers)) worker.process.kill('SIGTERM');
    cluster.disconnect(() => process.exit(0));
  });
} else {
  serve();
}
