//! Permissions as types, for [`Authorized<P>`](super::Authorized): one marker per
//! [`Permission`], and the trait a host implements for its own.

use crate::policy::roles::Permission;

/// A permission known at compile time, for the route guards [`Authorized<P>`](super::Authorized)
/// and [`AuthorizedOwn<P>`](super::AuthorizedOwn). A host may implement it for its own marker
/// types (an action named after its pages), mapping each to the [`Permission`] it needs.
pub trait RequiredPermission: Send + Sync + 'static {
    /// The permission the guard checks.
    const PERMISSION: Permission;
}

macro_rules! markers {
    ($($name:ident),* $(,)?) => {$(
        #[doc = concat!("[`Permission::", stringify!($name), "`] as a type.")]
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct $name;

        impl RequiredPermission for $name {
            const PERMISSION: Permission = Permission::$name;
        }
    )*};
}

markers!(
    ViewJobs,
    EditJobs,
    ViewReports,
    ManageMembers,
    ManageBilling,
    ManageSettings,
    ManageSecurityPolicy,
    TransferOwnership,
);

#[cfg(test)]
mod tests {
    use super::*;

    /// Every permission has its marker (the match is exhaustive: a new permission needs one).
    #[test]
    fn every_permission_has_a_marker() {
        for permission in Permission::ALL {
            let marked = match permission {
                Permission::ViewJobs => ViewJobs::PERMISSION,
                Permission::EditJobs => EditJobs::PERMISSION,
                Permission::ViewReports => ViewReports::PERMISSION,
                Permission::ManageMembers => ManageMembers::PERMISSION,
                Permission::ManageBilling => ManageBilling::PERMISSION,
                Permission::ManageSettings => ManageSettings::PERMISSION,
                Permission::ManageSecurityPolicy => ManageSecurityPolicy::PERMISSION,
                Permission::TransferOwnership => TransferOwnership::PERMISSION,
            };
            assert_eq!(marked, permission);
        }
    }
}
