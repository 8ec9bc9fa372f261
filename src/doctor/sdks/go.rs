//! The AWS SDK for Go v2 (config module), from its source on GitHub
//! (aws/aws-sdk-go-v2, the commits named in each row): not executed.

use super::table::{Basis, First, OnBad, RegionFiles, Row, Rule, Sdk, Source, Table};

/// The table.
pub const TABLE: Table = Table {
    sdk: Sdk::Go,
    name: "AWS SDK for Go v2",
    apps: "Go services (SDK v2)",
    version: "aws-sdk-go-v2 config (commits 02d654c4, 000ee9fe)",
    basis: Basis::Documentation,
    rows: &[
        Row {
            rule: Rule::Chain(&[
                Source::Environment,
                Source::WebIdentityEnv,
                Source::Profile,
                Source::Container,
                Source::InstanceMetadata,
            ]),
            source: "aws-sdk-go-v2 config/resolve_credentials.go@02d654c4 resolveCredentialChain: env keys, web identity env, then resolveCredsFromProfile (keys, credential_source, web identity, SSO, process, container, IMDS)",
        },
        Row {
            rule: Rule::RegionVariables(&["AWS_REGION", "AWS_DEFAULT_REGION"]),
            source: "aws-sdk-go-v2 config/env_config.go@000ee9fe regionEnvKeys",
        },
        Row {
            rule: Rule::RegionFiles(RegionFiles::ConfigFirst),
            source: "aws-sdk-go-v2 config/shared_config.go (sections of both files, config file first)",
        },
        Row {
            rule: Rule::NoRegion("Missing Region"),
            source: "aws-sdk-go-v2 service endpoint resolution (\"Invalid Configuration: Missing Region\")",
        },
        Row {
            rule: Rule::ProfileSkipsEnvironment(false),
            source: "aws-sdk-go-v2 config/resolve_credentials.go@02d654c4: only a profile set in code (WithSharedConfigProfile) comes before env keys",
        },
        Row {
            rule: Rule::PartialKeys(OnBad::Skip),
            source: "aws-sdk-go-v2 config/env_config.go@000ee9fe NewEnvConfig: keys kept only when both are set (HasKeys)",
        },
        Row {
            rule: Rule::MissingProfile(OnBad::Stop("failed to get shared config profile, {profile}")),
            source: "aws-sdk-go-v2 config/shared_config.go SharedConfigProfileNotExistError, returned when AWS_PROFILE names it",
        },
        Row {
            rule: Rule::MissingTokenFile(OnBad::Stop("no such file or directory")),
            source: "aws-sdk-go-v2 credentials/stscreds/web_identity_provider.go (IdentityTokenFile read at Retrieve)",
        },
        Row {
            rule: Rule::NoCredentials("failed to refresh cached credentials"),
            source: "aws-sdk-go-v2 aws/credential_cache.go, credentials/ec2rolecreds",
        },
        Row {
            rule: Rule::FirstStop(First::Region),
            source: "aws-sdk-go-v2 endpoint resolution runs before signing",
        },
        Row {
            rule: Rule::TrustRoots(&["AWS_CA_BUNDLE", "ca_bundle", "SSL_CERT_FILE", "SSL_CERT_DIR"]),
            source: "aws-sdk-go-v2 config/env_config.go@000ee9fe awsCustomCABundleEnvVar, shared_config.go ca_bundle; Go's crypto/x509 reads SSL_CERT_FILE/SSL_CERT_DIR for the system roots on Linux",
        },
        Row {
            rule: Rule::Endpoints(&[
                "AWS_ENDPOINT_URL",
                "AWS_ENDPOINT_URL_<SERVICE>",
                "endpoint_url",
                "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
            ]),
            source: "aws-sdk-go-v2 config/env_config.go@000ee9fe awsEndpointURL, awsIgnoreConfiguredEndpoints",
        },
        Row {
            rule: Rule::LoadsConfigFile(true),
            source: "aws-sdk-go-v2 config/shared_config.go (always, AWS_CONFIG_FILE or ~/.aws/config)",
        },
        Row {
            rule: Rule::CredentialProcess("runs it (processcreds) when the profile has no keys, role source, token file or SSO"),
            source: "aws-sdk-go-v2 config/resolve_credentials.go@02d654c4 resolveCredsFromProfile",
        },
        Row {
            rule: Rule::Sso("uses the cached SSO token (ssocreds); a missing or expired token fails the call"),
            source: "aws-sdk-go-v2 config/resolve_credentials.go@02d654c4 resolveSSOCredentials",
        },
    ],
};
