//! [`ApiTokenStore`]: API tokens for `Authorization: Bearer`, kept by digest; looked up with their
//! user in one query.

use super::Repo;
use super::user::{UserJoinRow, to_user, user_columns, user_joins};
use crate::connection::per_backend;
use crate::error::{QueryResultExt, corrupt};
use crate::schema::{api_tokens, users};
use accountd_domain::ids::UserKey;
use accountd_domain::ports::{ApiTokenStore, StoreResult};
use accountd_domain::records::{ApiToken, NewApiToken, TokenScope};
use accountd_domain::secret::TokenDigest;
use accountd_domain::text::Text;
use accountd_domain::user::{Timestamp, User};
use diesel::prelude::*;

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = api_tokens)]
#[diesel(check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
struct TokenRow {
    id: i64,
    digest: Vec<u8>,
    user_key: i64,
    name: String,
    created_at: i64,
    expires_at: Option<i64>,
    last_used_at: Option<i64>,
    scope: String,
    personal: bool,
}

fn to_token(row: TokenRow) -> StoreResult<ApiToken> {
    let id = row.id;
    Ok(ApiToken {
        id,
        digest: TokenDigest::from_slice(&row.digest).map_err(|e| corrupt("api_token", id, e))?,
        user: UserKey(row.user_key),
        name: Text::from_stored("name", row.name).map_err(|e| corrupt("api_token", id, e))?,
        created_at: Timestamp::from_millis(row.created_at),
        expires_at: row.expires_at.map(Timestamp::from_millis),
        last_used_at: row.last_used_at.map(Timestamp::from_millis),
        scope: TokenScope::parse(&row.scope).ok_or_else(|| corrupt("api_token", id, "unknown scope"))?,
        personal: row.personal,
    })
}

impl ApiTokenStore for Repo<'_> {
    fn create_api_token(&mut self, token: &NewApiToken) -> StoreResult<ApiToken> {
        let row: TokenRow = self.single(|conn| {
            // `RETURNING` a `Selectable` is built per backend (`MultiBackend` can't).
            per_backend!(&mut *conn, |c| diesel::insert_into(api_tokens::table)
                .values((
                    api_tokens::digest.eq(token.digest.as_bytes().as_slice()),
                    api_tokens::user_key.eq(token.user.0),
                    api_tokens::name.eq(token.name.as_str()),
                    api_tokens::created_at.eq(token.created_at.as_millis()),
                    api_tokens::expires_at.eq(token.expires_at.map(Timestamp::as_millis)),
                    api_tokens::scope.eq(token.scope.as_str()),
                    api_tokens::personal.eq(token.personal),
                ))
                .returning(TokenRow::as_returning())
                .get_result(c))
            .store_or_missing("user")
        })?;
        to_token(row)
    }

    fn api_token_with_user(&mut self, digest: &TokenDigest) -> StoreResult<Option<(ApiToken, User)>> {
        // On every Bearer request: on the backend's own connection (prepared once) and without
        // `LIMIT ?` (`digest` is unique); see sessions.rs and docs/performance.md.
        let row: Option<(TokenRow, UserJoinRow)> = per_backend!(&mut *self.conn, |c| user_joins!(
            api_tokens::table.inner_join(users::table.on(users::key.eq(api_tokens::user_key)))
        )
        .filter(api_tokens::digest.eq(digest.as_bytes().as_slice()))
        .select((TokenRow::as_select(), user_columns!()))
        .get_result(c)
        .optional())
        .store()?;
        row.map(|(token, user)| Ok((to_token(token)?, to_user(user)?)))
            .transpose()
    }

    fn touch_api_token(&mut self, id: i64, now: Timestamp) -> StoreResult<()> {
        self.single(|conn| {
            diesel::update(api_tokens::table.find(id))
                .set(api_tokens::last_used_at.eq(now.as_millis()))
                .execute(conn)
                .store()
                .map(|_| ())
        })
    }

    fn user_api_tokens(&mut self, user: UserKey) -> StoreResult<Vec<ApiToken>> {
        api_tokens::table
            .filter(api_tokens::user_key.eq(user.0))
            .order((api_tokens::created_at.desc(), api_tokens::id.desc()))
            .select(TokenRow::as_select())
            .load(self.conn)
            .store()?
            .into_iter()
            .map(to_token)
            .collect()
    }

    fn revoke_user_api_tokens(&mut self, user: UserKey) -> StoreResult<u64> {
        self.single(|conn| {
            diesel::delete(api_tokens::table.filter(api_tokens::user_key.eq(user.0)))
                .execute(conn)
                .store()
                .map(super::count)
        })
    }

    fn revoke_api_token(&mut self, user: UserKey, id: i64) -> StoreResult<bool> {
        self.single(|conn| {
            diesel::delete(
                api_tokens::table
                    .filter(api_tokens::id.eq(id))
                    .filter(api_tokens::user_key.eq(user.0)),
            )
            .execute(conn)
            .store()
            .map(|n| n > 0)
        })
    }
}
