-- Auth service schema: accounts, apps, API tokens, participant tokens and the keys that sign
-- participant tokens and webhooks. Applied by rtkit.db.migrate (schema "auth" already exists).

-- Tenants. An account owns apps and API tokens.
CREATE TABLE auth.accounts (
    id          uuid PRIMARY KEY,
    name        text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 255),
    create_time timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX accounts_create_time_idx ON auth.accounts (create_time, id);

-- Apps (RealtimeKit Apps, Dyte organizations). Create-only, like RealtimeKit.
-- Names are unique per account (choice of this clone; RealtimeKit does not document it).
CREATE TABLE auth.apps (
    id          uuid PRIMARY KEY,
    account_id  uuid NOT NULL REFERENCES auth.accounts (id),
    name        text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 255),
    create_time timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT apps_account_name_key UNIQUE (account_id, name)
);
CREATE INDEX apps_account_create_time_idx ON auth.apps (account_id, create_time, id);

-- API tokens: only the SHA-256 of the secret is stored; the plaintext is shown once.
CREATE TABLE auth.api_tokens (
    id            uuid PRIMARY KEY,
    account_id    uuid NOT NULL REFERENCES auth.accounts (id),
    name          text NOT NULL CHECK (char_length(name) <= 255),
    secret_sha256 bytea NOT NULL CHECK (octet_length(secret_sha256) = 32),
    create_time   timestamptz NOT NULL DEFAULT now(),
    revoke_time   timestamptz,
    CONSTRAINT api_tokens_secret_sha256_key UNIQUE (secret_sha256)
);
CREATE INDEX api_tokens_account_idx ON auth.api_tokens (account_id);

-- Participant-token signing keys (RSA 2048, RS256). private_key is the PKCS#8 PEM, or a Fernet
-- token of it when private_key_encrypted (RTK_AUTH_KEY_ENCRYPTION_KEY set).
-- ACTIVE signs and verifies (exactly one), VERIFY_ONLY verifies, RETIRED does neither.
CREATE TABLE auth.signing_keys (
    kid                   text PRIMARY KEY,
    algorithm             text NOT NULL DEFAULT 'RS256',
    state                 text NOT NULL CHECK (state IN ('ACTIVE', 'VERIFY_ONLY', 'RETIRED')),
    public_key_pem        text NOT NULL,
    private_key           bytea NOT NULL,
    private_key_encrypted boolean NOT NULL,
    create_time           timestamptz NOT NULL DEFAULT now(),
    retire_time           timestamptz
);
CREATE UNIQUE INDEX signing_keys_one_active_idx ON auth.signing_keys ((true)) WHERE state = 'ACTIVE';

-- Issued participant tokens, so that they can be revoked. One INSERT per issue (hot path), so:
-- no foreign keys (an FK to apps would take a KEY SHARE lock on one hot app row per insert),
-- few indexes, and a BRIN index on expire_time for the purge of expired rows.
CREATE TABLE auth.participant_tokens (
    jti            uuid PRIMARY KEY,
    app_id         uuid NOT NULL,
    meeting_id     uuid NOT NULL,
    participant_id uuid NOT NULL,
    preset_id      text NOT NULL,
    kid            text NOT NULL,
    issue_time     timestamptz NOT NULL,
    expire_time    timestamptz NOT NULL,
    revoke_time    timestamptz
);
CREATE INDEX participant_tokens_participant_idx ON auth.participant_tokens (app_id, participant_id);
CREATE INDEX participant_tokens_expire_time_idx ON auth.participant_tokens USING brin (expire_time);

-- Webhook signing keys (RSA 2048, RSASSA-PKCS1-v1_5 SHA-256); same storage rules as signing_keys.
-- One ACTIVE key signs and is published at /.well-known/webhooks.json.
CREATE TABLE auth.webhook_keys (
    kid                   text PRIMARY KEY,
    state                 text NOT NULL CHECK (state IN ('ACTIVE', 'RETIRED')),
    public_key_pem        text NOT NULL,
    private_key           bytea NOT NULL,
    private_key_encrypted boolean NOT NULL,
    create_time           timestamptz NOT NULL DEFAULT now(),
    retire_time           timestamptz
);
CREATE UNIQUE INDEX webhook_keys_one_active_idx ON auth.webhook_keys ((true)) WHERE state = 'ACTIVE';
