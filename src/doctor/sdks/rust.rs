//! The AWS SDK for Rust (aws-config 1.13.0), the canary itself. `doctor`
//! does not predict this family from the table: it walks the real chain
//! (`chain.rs`); the rows say what that walk follows.

use super::table::{Basis, First, OnBad, RegionFiles, Row, Rule, Sdk, Source, Table};

const AWS_CONFIG: &str = "aws-config 1.13.0";

/// The table.
pub const TABLE: Table = Table {
    sdk: Sdk::Rust,
    name: "AWS SDK for Rust (this canary)",
    apps: "Rust services and this canary",
    version: AWS_CONFIG,
    basis: Basis::Executed,
    rows: &[
        Row {
            rule: Rule::Chain(&[
                Source::Environment,
                Source::Profile,
                Source::WebIdentityEnv,
                Source::Container,
                Source::InstanceMetadata,
            ]),
            source: "aws-config 1.13.0 src/default_provider/credentials.rs (DefaultCredentialsChain)",
        },
        Row {
            rule: Rule::RegionVariables(&["AWS_REGION", "AWS_DEFAULT_REGION"]),
            source: "aws-config 1.13.0 src/environment/region.rs (AWS_REGION, else AWS_DEFAULT_REGION)",
        },
        Row {
            rule: Rule::RegionFiles(RegionFiles::ConfigFirst),
            source: "aws-config 1.13.0 src/profile/region.rs (the merged profile set of both files)",
        },
        Row {
            rule: Rule::NoRegion("no region"),
            source: "src/aws/region.rs (the canary refuses to run without one: exit 2)",
        },
        Row {
            rule: Rule::ProfileSkipsEnvironment(false),
            source: "aws-config 1.13.0 src/default_provider/credentials.rs (environment first, whatever AWS_PROFILE says)",
        },
        Row {
            rule: Rule::PartialKeys(OnBad::Skip),
            source: "aws-config 1.13.0 src/environment/credentials.rs (a missing variable is CredentialsNotLoaded: the chain moves on)",
        },
        Row {
            rule: Rule::MissingProfile(OnBad::Skip),
            source: "aws-config 1.13.0 src/profile/credentials.rs (the chain moves on; the canary checks it itself, src/aws/credentials.rs)",
        },
        Row {
            rule: Rule::MissingTokenFile(OnBad::Stop("web identity token file")),
            source: "aws-config 1.13.0 src/web_identity_token.rs",
        },
        Row {
            rule: Rule::NoCredentials("no provider in the chain supplied credentials"),
            source: "src/doctor/chain.rs",
        },
        Row {
            rule: Rule::FirstStop(First::Region),
            source: "src/aws/clients.rs (the region is resolved when the clients are built)",
        },
        Row {
            rule: Rule::TrustRoots(&["AWS_CA_BUNDLE", "ca_bundle", "SSL_CERT_FILE", "SSL_CERT_DIR"]),
            source: "src/aws/trust.rs (the canary reads AWS_CA_BUNDLE and ca_bundle itself: aws-config 1.13 reads neither, aws-sdk-rust#1362)",
        },
        Row {
            rule: Rule::Endpoints(&[
                "AWS_ENDPOINT_URL",
                "AWS_ENDPOINT_URL_<SERVICE>",
                "endpoint_url",
                "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
                "DYNAMODB_ENDPOINT",
            ]),
            source: "aws-config 1.13.0 src/default_provider/endpoint_url.rs; src/aws/endpoints.rs (DYNAMODB_ENDPOINT is the canary's alias)",
        },
        Row {
            rule: Rule::LoadsConfigFile(true),
            source: "aws-config 1.13.0 src/profile/parser.rs",
        },
        Row {
            rule: Rule::CredentialProcess("runs it; a failure stops the chain"),
            source: "aws-config 1.13.0 src/credential_process.rs",
        },
        Row {
            rule: Rule::Sso("uses the token `aws sso login` cached; an expired token stops the chain"),
            source: "aws-config 1.13.0 src/sso/credentials.rs",
        },
    ],
};
