//! The AWS SDK for JavaScript v3 in Node.js: @aws-sdk/client-sts 3.1178.0
//! with @aws-sdk/credential-provider-node 3.972.99 and @smithy/core 3.41.1,
//! read from the packages in node_modules and proven against them by
//! tests/infra/sdk_conformance.py.

use super::table::{Basis, First, OnBad, RegionFiles, Row, Rule, Sdk, Source, Table};

/// The table.
pub const TABLE: Table = Table {
    sdk: Sdk::Js,
    name: "AWS SDK for JavaScript v3 (Node.js)",
    apps: "Node services (AWS SDK for JavaScript v3)",
    version: "@aws-sdk/client-sts 3.1178.0, @aws-sdk/credential-provider-node 3.972.99, @smithy/core 3.41.1",
    basis: Basis::SourceAndConformance,
    rows: &[
        Row {
            rule: Rule::Chain(&[
                Source::Environment,
                Source::Profile,
                Source::WebIdentityEnv,
                Source::Container,
                Source::InstanceMetadata,
            ]),
            source: "@aws-sdk/credential-provider-node 3.972.99 dist-cjs/index.js defaultProvider: fromEnv, fromSSO (only with SSO inputs), fromIni, fromProcess, fromTokenFile, remoteProvider",
        },
        Row {
            rule: Rule::RegionVariables(&["AWS_REGION"]),
            source: "@smithy/core 3.41.1 dist-cjs/submodules/config/index.js NODE_REGION_CONFIG_OPTIONS: env[AWS_REGION] only; AWS_DEFAULT_REGION is read only to infer the defaults mode under AWS_EXECUTION_ENV",
        },
        Row {
            rule: Rule::RegionFiles(RegionFiles::CredentialsFirst),
            source: "@smithy/core 3.41.1 NODE_REGION_CONFIG_FILE_OPTIONS preferredFile: \"credentials\" (fromSharedConfigFiles merges the credentials file's profile over the config file's)",
        },
        Row {
            rule: Rule::NoRegion("Region is missing"),
            source: "@smithy/core 3.41.1 NODE_REGION_CONFIG_OPTIONS.default and resolveRegionConfig",
        },
        Row {
            rule: Rule::ProfileSkipsEnvironment(true),
            source: "@aws-sdk/credential-provider-node 3.972.99 defaultProvider: \"AWS_PROFILE is set, skipping fromEnv provider.\" (and a console warning when the keys are set too)",
        },
        Row {
            rule: Rule::PartialKeys(OnBad::Skip),
            source: "@aws-sdk/credential-provider-env 3.972.86 fromEnv: both or CredentialsProviderError (tryNextLink)",
        },
        Row {
            rule: Rule::MissingProfile(OnBad::Skip),
            source: "@aws-sdk/credential-provider-ini 3.973.32 resolveProfileData: \"Could not resolve credentials using profile\" is a CredentialsProviderError (tryNextLink)",
        },
        Row {
            rule: Rule::MissingTokenFile(OnBad::Stop("ENOENT: no such file or directory")),
            source: "@aws-sdk/credential-provider-web-identity 3.972.92 fromTokenFile: readFileSync throws a plain Error, which ends the chain",
        },
        Row {
            rule: Rule::NoCredentials("Could not load credentials from any providers"),
            source: "@aws-sdk/credential-provider-node 3.972.99 defaultProvider (last link)",
        },
        Row {
            rule: Rule::FirstStop(First::Region),
            source: "@smithy/core 3.41.1 resolveRegionConfig: the region is needed for the endpoint before the request is signed",
        },
        Row {
            rule: Rule::TrustRoots(&["NODE_EXTRA_CA_CERTS"]),
            source: "@smithy/node-http-handler 4.14.2 uses Node's https.Agent: Node's bundled roots plus NODE_EXTRA_CA_CERTS; no AWS_CA_BUNDLE or ca_bundle anywhere in @aws-sdk/* or @smithy/*",
        },
        Row {
            rule: Rule::Endpoints(&[
                "AWS_ENDPOINT_URL",
                "AWS_ENDPOINT_URL_<SERVICE>",
                "endpoint_url",
                "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
            ]),
            source: "@smithy/core 3.41.1 dist-cjs/submodules/endpoints/index.js getEndpointUrlConfig",
        },
        Row {
            rule: Rule::LoadsConfigFile(true),
            source: "@smithy/core 3.41.1 loadSharedConfigFiles: always (AWS_SDK_LOAD_CONFIG was SDK v2's switch; v3 never reads it)",
        },
        Row {
            rule: Rule::CredentialProcess("fromIni runs it for a profile with credential_process; a failure ends the chain"),
            source: "@aws-sdk/credential-provider-process 3.972.86",
        },
        Row {
            rule: Rule::Sso("fromIni uses the cached SSO token; a missing or expired token is an error of the profile"),
            source: "@aws-sdk/credential-provider-ini 3.973.32 resolveSsoCredentials",
        },
    ],
};
