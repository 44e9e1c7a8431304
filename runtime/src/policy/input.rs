//! What a policy is shown: the tenant, the commit, every desired resource
//! with the file and line that declare it, and the plan's JSON — the
//! values of sensitive fields withheld from both, as everywhere a value
//! leaves the host.

use crate::model::DesiredState;
use crate::plan::Plan;
use crate::tenant::Tenant;
use cairn_contract::{PolicyCommit, PolicyInput, PolicyResource};

/// The input of a check of `desired` (and `plan`, when there is one).
pub fn of_state(tenant: &Tenant, desired: &DesiredState, plan: Option<&Plan>) -> PolicyInput {
    let commit = &desired.commit;
    let resources = desired
        .resources
        .iter()
        .map(|resource| {
            let address = &resource.address;
            let spec = tenant.shown_spec(resource);
            PolicyResource {
                address: address.to_string(),
                provider: address.provider.clone(),
                type_name: address.type_name.clone(),
                id: address.id.clone(),
                spec,
                file: resource.origin.file.clone(),
                line: u32::try_from(resource.origin.line).unwrap_or(u32::MAX),
            }
        })
        .collect();
    PolicyInput {
        tenant: tenant.name.clone(),
        commit: PolicyCommit {
            id: commit.id.clone(),
            author: commit.author.clone(),
            message: commit.summary.clone(),
            time: commit.time,
            signer: desired.signer.clone(),
        },
        resources,
        plan: plan.map(|plan| serde_json::to_value(plan).expect("plans serialize")),
    }
}
