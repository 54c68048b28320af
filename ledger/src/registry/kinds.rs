//! Entry kinds and roles: the one table (`kinds!`) that names every kind,
//! its Chinese label and the roles that may submit it. The payload of each
//! kind is in [`crate::registry::payloads`].

use serde::{Deserialize, Serialize};

#[cfg(feature = "schema")]
use crate::registry::payloads::*;

/// Role is a participant's role in the authorized-operation regime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// DataAuthority is 数据主管部门.
    DataAuthority,
    /// ImplementingAgency is 实施机构.
    ImplementingAgency,
    /// DataSourceUnit is 数源单位 / 数据提供单位.
    DataSourceUnit,
    /// Operator is 运营机构 (it also runs the 运营平台).
    Operator,
    /// BusinessEntity is 经营主体 / 开发主体.
    BusinessEntity,
    /// TradingVenue is 数据交易场所.
    TradingVenue,
}

impl Role {
    /// name returns the kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            Role::DataAuthority => "data-authority",
            Role::ImplementingAgency => "implementing-agency",
            Role::DataSourceUnit => "data-source-unit",
            Role::Operator => "operator",
            Role::BusinessEntity => "business-entity",
            Role::TradingVenue => "trading-venue",
        }
    }

    /// label_zh returns the Chinese term of the seeds.
    pub fn label_zh(self) -> &'static str {
        match self {
            Role::DataAuthority => "数据主管部门",
            Role::ImplementingAgency => "实施机构",
            Role::DataSourceUnit => "数源单位",
            Role::Operator => "运营机构",
            Role::BusinessEntity => "经营主体",
            Role::TradingVenue => "数据交易场所",
        }
    }
}

/// MAX_REQUEST_ID_BYTES bounds a payload's `request_id`.
pub const MAX_REQUEST_ID_BYTES: usize = 64;

/// valid_request_id reports whether `s` is a valid `request_id`: 1 to
/// [`MAX_REQUEST_ID_BYTES`] printable ASCII characters without spaces
/// (0x21..=0x7E), e.g. a UUID. Nothing else about it is interpreted.
pub fn valid_request_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_REQUEST_ID_BYTES
        && s.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

macro_rules! kinds {
    ($( $variant:ident = $name:literal, $zh:literal, [$($role:ident),*] ;)*) => {
        /// EntryKind is the kind of an entry, named by its payload type.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum EntryKind { $(
            #[doc = $zh]
            $variant,
        )* }

        impl EntryKind {
            /// ALL lists every kind.
            pub const ALL: &'static [EntryKind] = &[$(EntryKind::$variant),*];

            /// name returns the kind's stable kebab-case name.
            pub fn name(self) -> &'static str {
                match self { $(EntryKind::$variant => $name),* }
            }

            /// label_zh returns the kind's Chinese description.
            pub fn label_zh(self) -> &'static str {
                match self { $(EntryKind::$variant => $zh),* }
            }

            /// from_name parses a kind name.
            pub fn from_name(s: &str) -> Option<EntryKind> {
                match s { $($name => Some(EntryKind::$variant),)* _ => None }
            }

            /// allowed_roles lists the roles that may submit the kind.
            pub fn allowed_roles(self) -> &'static [Role] {
                match self { $(EntryKind::$variant => &[$(Role::$role),*]),* }
            }
        }
    };
}

kinds! {
    Genesis = "genesis", "日志创世（身份、哈希算法、政策配置、根授权密钥）", [DataAuthority];
    ParticipantRegistered = "participant-registered", "参与方登记", [DataAuthority];
    ParticipantKeyRotated = "participant-key-rotated", "参与方密钥轮换", [DataAuthority];
    ParticipantRevoked = "participant-revoked", "参与方撤销", [DataAuthority];
    CalendarPublished = "calendar-published", "工作日历发布", [DataAuthority];
    ResourceRegistered = "resource-registered", "公共数据资源首次登记", [DataAuthority, DataSourceUnit];
    ResourceChanged = "resource-changed", "公共数据资源变更登记", [DataAuthority, DataSourceUnit];
    ResourceCorrected = "resource-corrected", "公共数据资源更正登记", [DataAuthority, DataSourceUnit];
    ResourceDeregistered = "resource-deregistered", "公共数据资源注销登记", [DataAuthority, DataSourceUnit];
    AgreementFiled = "agreement-filed", "备案（实施方案、授权运营协议、目录/场景授权协议、开放使用协议、合伙人）", [DataAuthority, ImplementingAgency, DataSourceUnit, Operator];
    AgreementAmended = "agreement-amended", "备案变更", [DataAuthority, ImplementingAgency];
    AgreementRenewed = "agreement-renewed", "协议续签", [DataAuthority, ImplementingAgency];
    AgreementSuspended = "agreement-suspended", "授权暂停", [DataAuthority, ImplementingAgency];
    AgreementResumed = "agreement-resumed", "授权恢复", [DataAuthority, ImplementingAgency];
    AgreementTerminated = "agreement-terminated", "授权终止", [DataAuthority, ImplementingAgency];
    CatalogCredentialIssued = "catalog-credential-issued", "目录授权电子凭证签发", [DataAuthority, ImplementingAgency, Operator];
    ProductApproved = "product-approved", "产品审核通过", [DataAuthority, ImplementingAgency, Operator];
    PublicNoticeOpened = "public-notice-opened", "结果公示", [DataAuthority, ImplementingAgency, Operator];
    ObjectionFiled = "objection-filed", "异议提出", [DataAuthority, ImplementingAgency, DataSourceUnit, Operator, BusinessEntity, TradingVenue];
    ObjectionResolved = "objection-resolved", "异议处理", [DataAuthority, Operator];
    ProductRegistered = "product-registered", "数据产品登记（数据产品登记证书）", [DataAuthority, Operator];
    ProductChanged = "product-changed", "产品变更登记", [DataAuthority, Operator];
    ProductSuspended = "product-suspended", "产品暂停", [DataAuthority, Operator];
    ProductResumed = "product-resumed", "产品恢复", [DataAuthority, Operator];
    ProductRegistrationRevoked = "product-registration-revoked", "撤销登记", [DataAuthority, Operator];
    ProductDeregistered = "product-deregistered", "注销登记", [DataAuthority, Operator];
    DataDestructionAttested = "data-destruction-attested", "数据销毁证明", [DataAuthority, Operator, BusinessEntity];
    OperationEvent = "operation-event", "操作日志/调用日志", [Operator, BusinessEntity];
    RetentionPruned = "retention-pruned", "日志留存期满清除（操作日志）", [DataAuthority];
}

/// Prerequisites are what the log must hold before an entry of a kind is
/// accepted: the kinds of the entries it depends on and, in words, what
/// else must hold (docs/registry.md has the full rules). Shown by
/// `regledger-node kinds` and in docs/registry.md ([`kinds_table`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prerequisites {
    /// after are the kinds of the entries that must come first.
    pub after: &'static [EntryKind],
    /// note says what else must hold.
    pub note: &'static str,
}

impl EntryKind {
    /// prerequisites returns what must be in the log before an entry of this kind.
    pub fn prerequisites(self) -> Prerequisites {
        use EntryKind as K;
        let (after, note): (&'static [EntryKind], &'static str) = match self {
            K::Genesis => (&[], "entry 0 only, written by `regledger-node init` (or `serve` on an empty directory)"),
            K::ParticipantRegistered => (&[K::Genesis], "a new id; its public keys are those its own `keygen` printed"),
            K::ParticipantKeyRotated | K::ParticipantRevoked => (&[K::ParticipantRegistered], "the participant is not revoked"),
            K::CalendarPublished => (&[K::Genesis], "a year from six back to one ahead; national years 2024–2026 are built in"),
            K::ResourceRegistered => (&[K::ParticipantRegistered], "the holder is a registered data source unit"),
            K::ResourceChanged | K::ResourceCorrected | K::ResourceDeregistered => (&[K::ResourceRegistered], "the resource is active"),
            K::AgreementFiled => (&[K::ParticipantRegistered, K::ResourceRegistered], "every party registered, every resource of the scope active; a scene or catalog authorization names its operation agreement (`parent`, itself agreement-filed and in force)"),
            K::AgreementAmended | K::AgreementRenewed | K::AgreementTerminated => (&[K::AgreementFiled], "the agreement is not terminated; a derived one's parent is in force"),
            K::AgreementSuspended => (&[K::AgreementFiled], "the agreement is active"),
            K::AgreementResumed => (&[K::AgreementSuspended], "the agreement is suspended"),
            K::CatalogCredentialIssued => (&[K::AgreementFiled], "the authorization and its parent are in force; grantee_name is the grantee's registered name"),
            K::ProductApproved => (&[K::AgreementFiled], "its authorization (a scene or catalog authorization, or the operator's operation agreement) is in force; the business entity is its grantee or a party"),
            K::PublicNoticeOpened => (&[K::ProductApproved], "no notice opened yet"),
            K::ObjectionFiled => (&[K::ProductApproved], "the product is not revoked or deregistered"),
            K::ObjectionResolved => (&[K::ObjectionFiled], "the objection is open"),
            K::ProductRegistered => (&[K::ProductApproved], "with non-public data a public-notice-opened whose 10 natural days are over; every objection-filed resolved; the authorization in force"),
            K::ProductChanged | K::ProductSuspended | K::ProductRegistrationRevoked | K::ProductDeregistered => (&[K::ProductRegistered], "the product is active (or suspended)"),
            K::ProductResumed => (&[K::ProductSuspended], "the product is suspended"),
            K::DataDestructionAttested => (&[K::AgreementFiled, K::ProductApproved], "the agreement or product whose data was destroyed (usually after agreement-terminated or product-deregistered)"),
            K::OperationEvent => (&[K::AgreementFiled], "the signer is a party to the agreement (or its parent); a named product is authorized under it"),
            K::RetentionPruned => (&[K::OperationEvent], "the agreement ended (terminated, or its term over) and its log retention ran out (Guangxi 6 months, Chengdu 1 year); every entry named is an operation event of it, not pruned before"),
        };
        Prerequisites { after, note }
    }
}

/// kinds_table renders every kind as a Markdown table in lifecycle order:
/// name, Chinese name, the roles that may submit it and its
/// prerequisites. docs/registry.md embeds exactly this (a test keeps it
/// so) and `regledger-node kinds --markdown` prints it.
pub fn kinds_table() -> String {
    let mut s = String::from(
        "| # | kind | 中文 | submitted by | after | what else must hold |\n| --- | --- | --- | --- | --- | --- |\n",
    );
    for (i, k) in EntryKind::ALL.iter().enumerate() {
        let p = k.prerequisites();
        let roles: Vec<&str> = k.allowed_roles().iter().map(|r| r.name()).collect();
        let after: Vec<String> = p.after.iter().map(|a| format!("`{}`", a.name())).collect();
        s.push_str(&format!(
            "| {} | `{}` | {} | {} | {} | {} |\n",
            i + 1,
            k.name(),
            k.label_zh(),
            roles.join(", "),
            if after.is_empty() {
                "—".to_string()
            } else {
                after.join(", ")
            },
            p.note
        ));
    }
    s
}

// A kind is written by its name (e.g. "product-registered") wherever it is
// serialized: in Effects, receipts and reports.
impl Serialize for EntryKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for EntryKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<EntryKind, D::Error> {
        let s = String::deserialize(d)?;
        EntryKind::from_name(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown entry kind {s:?}")))
    }
}

#[cfg(feature = "schema")]
impl EntryKind {
    /// payload_schema returns the JSON Schema of this kind's payload, as
    /// the rules parse it (unknown fields are refused).
    pub fn payload_schema(self) -> schemars::Schema {
        let mut s = self.bare_payload_schema();
        // Examples of the one example scenario (registry::examples), so
        // the schema shows a payload the rules accept.
        s.insert(
            "examples".into(),
            serde_json::Value::Array(crate::registry::examples::examples(
                self,
                crate::registry::examples::SCHEMA_EXAMPLE_DATE,
            )),
        );
        s
    }

    fn bare_payload_schema(self) -> schemars::Schema {
        match self {
            EntryKind::Genesis => schemars::schema_for!(Genesis),
            EntryKind::ParticipantRegistered => schemars::schema_for!(ParticipantSpec),
            EntryKind::ParticipantKeyRotated => schemars::schema_for!(KeyRotation),
            EntryKind::ParticipantRevoked => schemars::schema_for!(IdReason),
            EntryKind::CalendarPublished => schemars::schema_for!(CalendarNotice),
            EntryKind::ResourceRegistered => schemars::schema_for!(Resource),
            EntryKind::ResourceChanged => schemars::schema_for!(ResourceChange),
            EntryKind::ResourceCorrected => schemars::schema_for!(ResourceChange),
            EntryKind::ResourceDeregistered => schemars::schema_for!(IdReason),
            EntryKind::AgreementFiled => schemars::schema_for!(Agreement),
            EntryKind::AgreementAmended => schemars::schema_for!(AgreementAmend),
            EntryKind::AgreementRenewed => schemars::schema_for!(AgreementRenewal),
            EntryKind::AgreementSuspended => schemars::schema_for!(StatusChange),
            EntryKind::AgreementResumed => schemars::schema_for!(StatusChange),
            EntryKind::AgreementTerminated => schemars::schema_for!(Termination),
            EntryKind::CatalogCredentialIssued => schemars::schema_for!(CatalogCredential),
            EntryKind::ProductApproved => schemars::schema_for!(ProductApproval),
            EntryKind::PublicNoticeOpened => schemars::schema_for!(PublicNotice),
            EntryKind::ObjectionFiled => schemars::schema_for!(Objection),
            EntryKind::ObjectionResolved => schemars::schema_for!(ObjectionResolution),
            EntryKind::ProductRegistered => schemars::schema_for!(ProductRegistration),
            EntryKind::ProductChanged => schemars::schema_for!(ProductChange),
            EntryKind::ProductSuspended => schemars::schema_for!(StatusChange),
            EntryKind::ProductResumed => schemars::schema_for!(StatusChange),
            EntryKind::ProductRegistrationRevoked => schemars::schema_for!(StatusChange),
            EntryKind::ProductDeregistered => schemars::schema_for!(StatusChange),
            EntryKind::DataDestructionAttested => schemars::schema_for!(DestructionAttestation),
            EntryKind::OperationEvent => schemars::schema_for!(OperationEvent),
            EntryKind::RetentionPruned => schemars::schema_for!(RetentionPruned),
        }
    }
}
