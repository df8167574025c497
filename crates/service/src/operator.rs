//! The operator's use cases at the console (`accountd user …`, the first start): no caller, no
//! access scope, but the same constructors, policy and audit as every other change.

use crate::profile::Actor;
use crate::{RequestContext, ServiceResult, Services};
use accountd_domain::ids::Username;
use accountd_domain::level::Role;
use accountd_domain::ports::Store;
use accountd_domain::secret::Password;
use accountd_domain::text::Name;
use accountd_domain::user::{NewProfile, NewUser, Profile, User};

impl<S: Store> Services<S> {
    /// The user named `username`, if there is one.
    pub fn find_user(&self, username: &Username) -> ServiceResult<Option<User>> {
        Ok(self.store.read(|repo| repo.user_by_username(username))?)
    }

    /// On an empty store only: creates the system administrator `admin` with `password` and
    /// returns it; otherwise does nothing and returns `None`.
    pub fn ensure_first_admin(&self, password: &Password) -> ServiceResult<Option<User>> {
        if self.store.read(|repo| repo.count_users())? > 0 {
            return Ok(None);
        }
        let admin = NewUser::new(
            self.new_uuid(),
            Username::parse("admin")?,
            Role::System,
            NewProfile {
                profile: Profile::named(
                    Name::parse_for("first_name", "System")?,
                    Name::parse_for("last_name", "Administrator")?,
                ),
                department: None,
            },
        );
        self.create_user(Actor::Operator, &admin, password, &RequestContext::default())
            .map(Some)
    }
}
