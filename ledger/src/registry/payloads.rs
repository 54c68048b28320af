//! The payload of every entry kind, as the rules parse it.
//!
//! Every payload is strict JSON (`deny_unknown_fields`); documents are never
//! stored, only their BLAKE3 digest and metadata; personal data appears only
//! as salted commitments. Their JSON Schemas are in `schemas/entries/`.
//!
//! The file is long because it declares the payloads of all 28 kinds with
//! every field documented (what a regulator reads to know what was signed);
//! it holds no rule.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::registry::calendar::Date;
use crate::registry::kinds::{EntryKind, Role};

/// ParticipantSpec describes a participant and its public keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ParticipantSpec {
    /// id is the participant's stable identifier (e.g. its 统一社会信用代码 or a platform id).
    pub id: String,
    /// name is the legal name.
    pub name: String,
    /// role is its role.
    pub role: Role,
    /// public_keys are base64 public keys: 32 bytes Ed25519, or the SM2
    /// 65-byte uncompressed point, optionally followed by a stated signer ID
    /// (schemas/FORMATS.md, "SM2").
    pub public_keys: Vec<String>,
    /// credit_code is the 统一社会信用代码, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit_code: Option<String>,
    /// request_id makes a deliberate repeat of an identical act a new
    /// signed content (replay identity is the signed content, D12): 1..64
    /// printable ASCII characters without spaces, e.g. a UUID. The rules
    /// check only these limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(pattern(r"^[!-~]{1,64}$")))]
    pub request_id: Option<String>,
}

/// Genesis fixes the log's identity, hash suite, profile and root authority.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Genesis {
    /// origin is the log's checkpoint origin.
    pub origin: String,
    /// hash is the hash suite name.
    pub hash: String,
    /// profile is the policy profile name.
    pub profile: String,
    /// authority is the root data authority, which signs this entry.
    pub authority: ParticipantSpec,
    /// require_sm2: every participant key (the authority's included) must
    /// be SM2 (D19: a log assessed under GB/T 39786 level 3). Omitted when
    /// false, so genesis entries written before it are unchanged.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_sm2: bool,
}

/// ParticipantKeyRotated adds and retires keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct KeyRotation {
    /// id is the participant.
    pub id: String,
    /// add_keys are new base64 public keys (Ed25519 or SM2, as `public_keys`).
    #[serde(default)]
    pub add_keys: Vec<String>,
    /// retire_key_ids are key ids to retire.
    #[serde(default)]
    pub retire_key_ids: Vec<String>,
    /// request_id makes a deliberate repeat of an identical act a new
    /// signed content (replay identity is the signed content, D12): 1..64
    /// printable ASCII characters without spaces, e.g. a UUID. The rules
    /// check only these limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(pattern(r"^[!-~]{1,64}$")))]
    pub request_id: Option<String>,
}

/// IdReason names a subject and gives a reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct IdReason {
    /// id is the subject.
    pub id: String,
    /// reason explains the act.
    pub reason: String,
    /// request_id makes a deliberate repeat of an identical act a new
    /// signed content (replay identity is the signed content, D12): 1..64
    /// printable ASCII characters without spaces, e.g. a UUID. The rules
    /// check only these limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(pattern(r"^[!-~]{1,64}$")))]
    pub request_id: Option<String>,
}

/// CalendarNotice publishes a year's national or regional holiday notice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CalendarNotice {
    /// year is the calendar year.
    pub year: i32,
    /// region is None for the national notice, e.g. "guangxi" for an overlay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// notice names the official notice.
    pub notice: String,
    /// off are inclusive ranges of days off.
    pub off: Vec<(Date, Date)>,
    /// makeup_workdays are weekend days that are working days.
    #[serde(default)]
    pub makeup_workdays: Vec<Date>,
    /// request_id makes a deliberate repeat of an identical act a new
    /// signed content (replay identity is the signed content, D12): 1..64
    /// printable ASCII characters without spaces, e.g. a UUID. The rules
    /// check only these limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(pattern(r"^[!-~]{1,64}$")))]
    pub request_id: Option<String>,
}

/// OpenAttribute is a resource's open attribute (开放属性).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum OpenAttribute {
    /// Unconditional is 无条件开放.
    Unconditional,
    /// Conditional is 有条件开放.
    Conditional,
    /// NotOpen is 不予开放.
    NotOpen,
}

/// Resource is a public data resource's registration fields.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Resource {
    /// id is the resource's registration id.
    pub id: String,
    /// name is the resource name.
    pub name: String,
    /// holder is the data source unit's participant id.
    pub holder: String,
    /// catalog_id is the catalog entry id.
    pub catalog_id: String,
    /// grade is the classification grade (分类分级).
    pub grade: String,
    /// open_attribute is the open attribute.
    pub open_attribute: OpenAttribute,
    /// format is the data format.
    pub format: String,
    /// update_frequency is the update frequency.
    pub update_frequency: String,
    /// scale is the data scale.
    pub scale: String,
    /// request_id makes a deliberate repeat of an identical act a new
    /// signed content (replay identity is the signed content, D12): 1..64
    /// printable ASCII characters without spaces, e.g. a UUID. The rules
    /// check only these limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(pattern(r"^[!-~]{1,64}$")))]
    pub request_id: Option<String>,
}

/// ResourceChange changes or corrects fields of a registered resource.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ResourceChange {
    /// id is the resource.
    pub id: String,
    /// name, if changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// grade, if changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grade: Option<String>,
    /// open_attribute, if changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_attribute: Option<OpenAttribute>,
    /// format, if changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// update_frequency, if changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_frequency: Option<String>,
    /// scale, if changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<String>,
    /// reason explains the change.
    pub reason: String,
    /// request_id makes a deliberate repeat of an identical act a new
    /// signed content (replay identity is the signed content, D12): 1..64
    /// printable ASCII characters without spaces, e.g. a UUID. The rules
    /// check only these limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(pattern(r"^[!-~]{1,64}$")))]
    pub request_id: Option<String>,
}

/// AgreementType is what is filed (备案).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum AgreementType {
    /// ImplementationPlan is 实施方案.
    ImplementationPlan,
    /// OperationAgreement is 授权运营协议.
    OperationAgreement,
    /// CatalogAuthorization is 目录授权协议.
    CatalogAuthorization,
    /// SceneAuthorization is 场景授权协议.
    SceneAuthorization,
    /// OpenDataUsage is 数据开放使用协议.
    OpenDataUsage,
    /// PartnerFiling is 合伙人备案.
    PartnerFiling,
}

impl AgreementType {
    /// name returns the kebab-case name, as written in payloads.
    pub fn name(self) -> &'static str {
        match self {
            AgreementType::ImplementationPlan => "implementation-plan",
            AgreementType::OperationAgreement => "operation-agreement",
            AgreementType::CatalogAuthorization => "catalog-authorization",
            AgreementType::SceneAuthorization => "scene-authorization",
            AgreementType::OpenDataUsage => "open-data-usage",
            AgreementType::PartnerFiling => "partner-filing",
        }
    }

    /// authorizes reports whether this type authorizes products to be built and registered.
    pub fn authorizes_products(self) -> bool {
        matches!(
            self,
            AgreementType::OperationAgreement
                | AgreementType::CatalogAuthorization
                | AgreementType::SceneAuthorization
        )
    }
}

/// Agreement is a filing: parties, scope, dates, document digest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Agreement {
    /// id is the filing id.
    pub id: String,
    /// agreement_type is what is filed.
    pub agreement_type: AgreementType,
    /// parties are the participant ids of the parties.
    pub parties: Vec<String>,
    /// grantee is the authorized participant (operator or business entity).
    pub grantee: String,
    /// parent is the agreement this one derives from (e.g. a scene authorization under an operation agreement).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// scope are the resource ids covered.
    pub scope: Vec<String>,
    /// scene describes the application scene (场景), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scene: Option<String>,
    /// signed_on is the signing (or approval) date; the filing clock starts here.
    pub signed_on: Date,
    /// term_start is the first day of the term.
    pub term_start: Date,
    /// term_end is the last day of the term.
    pub term_end: Date,
    /// document_title is the document's title.
    pub document_title: String,
    /// document_digest is the digest (64 lowercase hex digits) of the
    /// document in the log's hash suite (SM3 in an `sm3` log); the document
    /// itself is never stored. Exactly one of document_digest and
    /// document_blake3 is given (docs/registry.md, "Document digests").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_digest: Option<String>,
    /// document_blake3 is the older field: the BLAKE3 digest of the
    /// document whatever the log's suite. Deprecated; accepted in `sha256`
    /// and `blake3` logs (their existing entries carry it), refused in an
    /// `sm3` log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_blake3: Option<String>,
    /// request_id makes a deliberate repeat of an identical act a new
    /// signed content (replay identity is the signed content, D12): 1..64
    /// printable ASCII characters without spaces, e.g. a UUID. The rules
    /// check only these limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(pattern(r"^[!-~]{1,64}$")))]
    pub request_id: Option<String>,
}

/// AgreementAmend amends a filing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct AgreementAmend {
    /// id is the filing.
    pub id: String,
    /// scope replaces the scope, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Vec<String>>,
    /// document_digest is the digest of the amended document in the log's
    /// suite (see [`AgreementFile::document_digest`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_digest: Option<String>,
    /// document_blake3 is its deprecated BLAKE3 form (see
    /// [`AgreementFile::document_blake3`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_blake3: Option<String>,
    /// amended_on is the date of the amendment.
    pub amended_on: Date,
    /// reason explains the amendment.
    pub reason: String,
    /// request_id makes a deliberate repeat of an identical act a new
    /// signed content (replay identity is the signed content, D12): 1..64
    /// printable ASCII characters without spaces, e.g. a UUID. The rules
    /// check only these limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(pattern(r"^[!-~]{1,64}$")))]
    pub request_id: Option<String>,
}

/// AgreementRenewal extends a term.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct AgreementRenewal {
    /// id is the filing.
    pub id: String,
    /// applied_on is when renewal was applied for.
    pub applied_on: Date,
    /// new_term_end is the new last day.
    pub new_term_end: Date,
    /// document_digest is the digest of the renewal document in the log's
    /// suite (see [`AgreementFile::document_digest`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_digest: Option<String>,
    /// document_blake3 is its deprecated BLAKE3 form (see
    /// [`AgreementFile::document_blake3`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_blake3: Option<String>,
    /// request_id makes a deliberate repeat of an identical act a new
    /// signed content (replay identity is the signed content, D12): 1..64
    /// printable ASCII characters without spaces, e.g. a UUID. The rules
    /// check only these limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(pattern(r"^[!-~]{1,64}$")))]
    pub request_id: Option<String>,
}

/// StatusChange suspends, resumes, revokes or deregisters a subject.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    /// id is the subject (agreement or product id).
    pub id: String,
    /// reason explains the act.
    pub reason: String,
    /// effective_on is when it takes effect.
    pub effective_on: Date,
    /// request_id makes a deliberate repeat of an identical act a new
    /// signed content (replay identity is the signed content, D12): 1..64
    /// printable ASCII characters without spaces, e.g. a UUID. The rules
    /// check only these limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(pattern(r"^[!-~]{1,64}$")))]
    pub request_id: Option<String>,
}

/// TerminationReason says why an agreement ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum TerminationReason {
    /// Expiry: the term ended.
    Expiry,
    /// VoluntaryExit: the grantee left (主动退出).
    VoluntaryExit,
    /// UnilateralTermination: terminated by the grantor (单方解除).
    UnilateralTermination,
    /// Violation: terminated for a violation.
    Violation,
    /// Other reasons, explained in `detail`.
    Other,
}

/// Termination ends an agreement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Termination {
    /// id is the filing.
    pub id: String,
    /// reason is the kind of termination.
    pub reason: TerminationReason,
    /// detail explains it.
    pub detail: String,
    /// effective_on is the last day of the agreement.
    pub effective_on: Date,
    /// request_id makes a deliberate repeat of an identical act a new
    /// signed content (replay identity is the signed content, D12): 1..64
    /// printable ASCII characters without spaces, e.g. a UUID. The rules
    /// check only these limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(pattern(r"^[!-~]{1,64}$")))]
    pub request_id: Option<String>,
}

/// CatalogCredential is the 目录授权电子凭证 (Guangxi Art. 10).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CatalogCredential {
    /// credential_no is 授权编号.
    pub credential_no: String,
    /// agreement_id is the catalog authorization agreement.
    pub agreement_id: String,
    /// grantee_name is 被授权主体名称.
    pub grantee_name: String,
    /// scope is 授权范围.
    pub scope: String,
    /// valid_from is the start of 授权期限.
    pub valid_from: Date,
    /// valid_until is the end of 授权期限.
    pub valid_until: Date,
    /// issuer is 发证部门.
    pub issuer: String,
    /// issued_on is 发证日期.
    pub issued_on: Date,
    /// request_id makes a deliberate repeat of an identical act a new
    /// signed content (replay identity is the signed content, D12): 1..64
    /// printable ASCII characters without spaces, e.g. a UUID. The rules
    /// check only these limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(pattern(r"^[!-~]{1,64}$")))]
    pub request_id: Option<String>,
}

/// ProductApproval records 审核通过; it starts the registration clock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ProductApproval {
    /// product_id is the product.
    pub product_id: String,
    /// product_name is the product name.
    pub product_name: String,
    /// business_entity is the 经营主体's participant id.
    pub business_entity: String,
    /// authorization is the authorizing agreement id.
    pub authorization: String,
    /// applied_on is when review was applied for (starts the review clock), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_on: Option<Date>,
    /// approved_on is the approval date.
    pub approved_on: Date,
    /// uses_non_public_data: non-public data was used, so a public notice is required (Guangxi Art. 12(6)).
    pub uses_non_public_data: bool,
    /// request_id makes a deliberate repeat of an identical act a new
    /// signed content (replay identity is the signed content, D12): 1..64
    /// printable ASCII characters without spaces, e.g. a UUID. The rules
    /// check only these limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(pattern(r"^[!-~]{1,64}$")))]
    pub request_id: Option<String>,
}

/// PublicNotice opens a 公示.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PublicNotice {
    /// product_id is the product.
    pub product_id: String,
    /// opened_on is the first day of the notice.
    pub opened_on: Date,
    /// request_id makes a deliberate repeat of an identical act a new
    /// signed content (replay identity is the signed content, D12): 1..64
    /// printable ASCII characters without spaces, e.g. a UUID. The rules
    /// check only these limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(pattern(r"^[!-~]{1,64}$")))]
    pub request_id: Option<String>,
}

/// ObjectionOutcome is how an objection was handled (Guangxi Art. 12(8)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum ObjectionOutcome {
    /// Dismissed: not upheld.
    Dismissed,
    /// ChangeAuthorization: 变更授权.
    ChangeAuthorization,
    /// RevokeRegistration: 撤销登记.
    RevokeRegistration,
    /// DestroyData: 数据销毁.
    DestroyData,
}

/// Objection files an 异议.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Objection {
    /// objection_id is the objection.
    pub objection_id: String,
    /// product_id is the product objected to.
    pub product_id: String,
    /// filed_on is the filing date.
    pub filed_on: Date,
    /// filer_name is who objected (a person's name only with consent; else a description).
    pub filer_name: String,
    /// grounds summarises the grounds.
    pub grounds: String,
    /// evidence_digest is the digest of the evidence, if any, in the log's
    /// suite (see [`AgreementFile::document_digest`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence_digest: Option<String>,
    /// evidence_blake3 is its deprecated BLAKE3 form (see
    /// [`AgreementFile::document_blake3`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence_blake3: Option<String>,
    /// request_id makes a deliberate repeat of an identical act a new
    /// signed content (replay identity is the signed content, D12): 1..64
    /// printable ASCII characters without spaces, e.g. a UUID. The rules
    /// check only these limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(pattern(r"^[!-~]{1,64}$")))]
    pub request_id: Option<String>,
}

/// ObjectionResolution resolves an 异议.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ObjectionResolution {
    /// objection_id is the objection.
    pub objection_id: String,
    /// resolved_on is the feedback date.
    pub resolved_on: Date,
    /// outcome is the decision.
    pub outcome: ObjectionOutcome,
    /// reason explains it.
    pub reason: String,
    /// request_id makes a deliberate repeat of an identical act a new
    /// signed content (replay identity is the signed content, D12): 1..64
    /// printable ASCII characters without spaces, e.g. a UUID. The rules
    /// check only these limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(pattern(r"^[!-~]{1,64}$")))]
    pub request_id: Option<String>,
}

/// ProductRegistration is the 数据产品登记证书's content (Guangxi Art. 12(7)).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ProductRegistration {
    /// product_id is the product.
    pub product_id: String,
    /// registration_no is 登记号.
    pub registration_no: String,
    /// certificate_name is 证书名称.
    pub certificate_name: String,
    /// product_name is 数据产品名称.
    pub product_name: String,
    /// product_type is 产品类型.
    pub product_type: String,
    /// business_entity is 经营主体's participant id.
    pub business_entity: String,
    /// business_entity_name is 经营主体's name.
    pub business_entity_name: String,
    /// update_cycle is 数据更新周期.
    pub update_cycle: String,
    /// scenarios are 应用场景.
    pub scenarios: Vec<String>,
    /// registered_on is 登记日期.
    pub registered_on: Date,
    /// authorization is the authorizing agreement id.
    pub authorization: String,
    /// request_id makes a deliberate repeat of an identical act a new
    /// signed content (replay identity is the signed content, D12): 1..64
    /// printable ASCII characters without spaces, e.g. a UUID. The rules
    /// check only these limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(pattern(r"^[!-~]{1,64}$")))]
    pub request_id: Option<String>,
}

/// ProductChange changes a registered product.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ProductChange {
    /// id is the product.
    pub id: String,
    /// product_name, if changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_name: Option<String>,
    /// update_cycle, if changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_cycle: Option<String>,
    /// scenarios, if changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenarios: Option<Vec<String>>,
    /// reason explains the change.
    pub reason: String,
    /// effective_on is when it takes effect.
    pub effective_on: Date,
    /// request_id makes a deliberate repeat of an identical act a new
    /// signed content (replay identity is the signed content, D12): 1..64
    /// printable ASCII characters without spaces, e.g. a UUID. The rules
    /// check only these limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(pattern(r"^[!-~]{1,64}$")))]
    pub request_id: Option<String>,
}

/// DestructionAttestation attests data destruction (数据销毁).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct DestructionAttestation {
    /// subject_id is the agreement or product whose data was destroyed.
    pub subject_id: String,
    /// attested_on is the date.
    pub attested_on: Date,
    /// method describes how.
    pub method: String,
    /// evidence_digest is the digest of the evidence in the log's suite
    /// (see [`AgreementFile::document_digest`]); exactly one of it and
    /// evidence_blake3 is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence_digest: Option<String>,
    /// evidence_blake3 is its deprecated BLAKE3 form (see
    /// [`AgreementFile::document_blake3`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence_blake3: Option<String>,
    /// request_id makes a deliberate repeat of an identical act a new
    /// signed content (replay identity is the signed content, D12): 1..64
    /// printable ASCII characters without spaces, e.g. a UUID. The rules
    /// check only these limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(pattern(r"^[!-~]{1,64}$")))]
    pub request_id: Option<String>,
}

/// OperationAction is what an operation event did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum OperationAction {
    /// Access is a data access or API call (调用).
    Access,
    /// Processing is data processing.
    Processing,
    /// Export is data leaving the platform.
    Export,
    /// Destruction is data deletion.
    Destruction,
}

/// OperationEvent is one operation-log record (调用日志/操作日志).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct OperationEvent {
    /// agreement_id is the authorization the act was done under.
    pub agreement_id: String,
    /// product_id is the product involved, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    /// action is what was done.
    pub action: OperationAction,
    /// occurred_at_ms is when (Unix ms).
    pub occurred_at_ms: u64,
    /// actor is who did it (a system or account id, never a person's identity in clear).
    pub actor: String,
    /// records is how many records were touched.
    pub records: u64,
    /// personal_data_commitments are hex BLAKE3(salt ‖ personal data) commitments, never the data.
    #[serde(default)]
    pub personal_data_commitments: Vec<String>,
    /// request_id makes a deliberate repeat of an identical act a new
    /// signed content (replay identity is the signed content, D12): 1..64
    /// printable ASCII characters without spaces, e.g. a UUID. The rules
    /// check only these limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(pattern(r"^[!-~]{1,64}$")))]
    pub request_id: Option<String>,
}

/// MAX_PRUNE_ENTRIES bounds the entries one `retention-pruned` names (a
/// longer history is pruned in several entries, in index order).
pub const MAX_PRUNE_ENTRIES: usize = 1024;

/// RetentionPruned is a data authority's order that the operation events
/// `entries` of agreement `agreement_id`, whose log retention has run out,
/// be dropped (their envelopes; their leaves stay). It names the entries
/// by index rather than the agreement alone, because once an envelope is
/// gone nothing in the log says which agreement it was under: the signed
/// list is what lets the audit accept exactly those gaps (D22).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RetentionPruned {
    /// agreement_id is the agreement whose operation logs are pruned.
    pub agreement_id: String,
    /// entries are the indexes of its operation events pruned, strictly
    /// increasing, 1..=MAX_PRUNE_ENTRIES of them, each before this entry.
    pub entries: Vec<u64>,
    /// request_id makes a deliberate repeat of an identical act a new
    /// signed content (replay identity is the signed content, D12): 1..64
    /// printable ASCII characters without spaces, e.g. a UUID. The rules
    /// check only these limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(pattern(r"^[!-~]{1,64}$")))]
    pub request_id: Option<String>,
}

impl EntryKind {
    /// subject_id returns the id of the object an entry of this kind acts
    /// on, read from `payload` as the kind's own payload type: the
    /// participant, resource, agreement, credential (its 授权编号), product,
    /// objection or destruction subject; for an operation event its
    /// agreement. None for a calendar notice, or a payload that does not
    /// parse (the rules refuse such an entry).
    pub fn subject_id(self, payload: &[u8]) -> Option<String> {
        fn id<T: DeserializeOwned>(payload: &[u8], f: impl FnOnce(T) -> String) -> Option<String> {
            serde_json::from_slice::<T>(payload).ok().map(f)
        }
        let p = payload;
        match self {
            EntryKind::Genesis => id(p, |g: Genesis| g.authority.id),
            EntryKind::ParticipantRegistered => id(p, |x: ParticipantSpec| x.id),
            EntryKind::ParticipantKeyRotated => id(p, |x: KeyRotation| x.id),
            EntryKind::ParticipantRevoked | EntryKind::ResourceDeregistered => {
                id(p, |x: IdReason| x.id)
            }
            EntryKind::CalendarPublished => None,
            EntryKind::ResourceRegistered => id(p, |x: Resource| x.id),
            EntryKind::ResourceChanged | EntryKind::ResourceCorrected => {
                id(p, |x: ResourceChange| x.id)
            }
            EntryKind::AgreementFiled => id(p, |x: Agreement| x.id),
            EntryKind::AgreementAmended => id(p, |x: AgreementAmend| x.id),
            EntryKind::AgreementRenewed => id(p, |x: AgreementRenewal| x.id),
            EntryKind::AgreementTerminated => id(p, |x: Termination| x.id),
            EntryKind::CatalogCredentialIssued => id(p, |x: CatalogCredential| x.credential_no),
            EntryKind::ProductApproved => id(p, |x: ProductApproval| x.product_id),
            EntryKind::PublicNoticeOpened => id(p, |x: PublicNotice| x.product_id),
            EntryKind::ObjectionFiled => id(p, |x: Objection| x.objection_id),
            EntryKind::ObjectionResolved => id(p, |x: ObjectionResolution| x.objection_id),
            EntryKind::ProductRegistered => id(p, |x: ProductRegistration| x.product_id),
            EntryKind::ProductChanged => id(p, |x: ProductChange| x.id),
            EntryKind::AgreementSuspended
            | EntryKind::AgreementResumed
            | EntryKind::ProductSuspended
            | EntryKind::ProductResumed
            | EntryKind::ProductRegistrationRevoked
            | EntryKind::ProductDeregistered => id(p, |x: StatusChange| x.id),
            EntryKind::DataDestructionAttested => id(p, |x: DestructionAttestation| x.subject_id),
            EntryKind::OperationEvent => id(p, |x: OperationEvent| x.agreement_id),
            EntryKind::RetentionPruned => id(p, |x: RetentionPruned| x.agreement_id),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::registry::EntryKind;
    use crate::testkit::{replay, Testkit};
    use crate::HashSuite;

    #[test]
    fn the_subject_of_every_entry_is_one_the_rules_record() {
        let t = Testkit::new("regledger.test/subjects");
        let steps = t.lifecycle(HashSuite::Blake3, "guangxi");
        let r = replay(&t.origin, HashSuite::Blake3, &steps).unwrap();
        let mut kinds = 0;
        for (env, fx) in r.envelopes.iter().zip(&r.effects) {
            let got = fx.kind.subject_id(&env.payload);
            if fx.kind == EntryKind::CalendarPublished {
                assert_eq!(got, None);
                continue;
            }
            let got = got.unwrap_or_else(|| panic!("{:?} has no subject", fx.kind));
            assert!(
                fx.subjects.contains(&got),
                "{:?}: {got} not in {:?}",
                fx.kind,
                fx.subjects
            );
            kinds += 1;
        }
        assert!(kinds > 10);
        assert_eq!(EntryKind::ProductChanged.subject_id(b"not json"), None);
    }
}
