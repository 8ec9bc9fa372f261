//! The AWS SDK for .NET (v4 core), from its source on GitHub
//! (aws/aws-sdk-net, the commits named in each row): not executed.

use super::table::{Basis, First, OnBad, RegionFiles, Row, Rule, Sdk, Source, Table};

/// The table.
pub const TABLE: Table = Table {
    sdk: Sdk::Dotnet,
    name: "AWS SDK for .NET",
    apps: ".NET services",
    version: "aws-sdk-net core (commits 69556ab7, 018f1461)",
    basis: Basis::Documentation,
    rows: &[
        Row {
            rule: Rule::Chain(&[
                Source::WebIdentityEnv,
                Source::Environment,
                Source::Profile,
                Source::Container,
                Source::InstanceMetadata,
            ]),
            source: "aws-sdk-net sdk/src/Core/Amazon.Runtime/Credentials/Internal/IdentityResolvers/DefaultAWSCredentialsIdentityResolver.cs@69556ab7 (v4: web identity env, environment, profile, container/EC2; v3's FallbackCredentialsFactory.cs@13bd83ed asked the profile before the environment)",
        },
        Row {
            rule: Rule::RegionVariables(&["AWS_REGION"]),
            source: "aws-sdk-net sdk/src/Core/Amazon.Runtime/AWSRegion.cs@018f1461 EnvironmentVariableAWSRegion reads AWS_REGION (AWS_DEFAULT_REGION is declared, not read)",
        },
        Row {
            rule: Rule::RegionFiles(RegionFiles::ConfigFirst),
            source: "aws-sdk-net AWSRegion.cs@018f1461 ProfileAWSRegion (CredentialProfileStoreChain)",
        },
        Row {
            rule: Rule::NoRegion("No RegionEndpoint or ServiceURL configured"),
            source: "aws-sdk-net ClientConfig validation",
        },
        Row {
            rule: Rule::ProfileSkipsEnvironment(false),
            source: "aws-sdk-net DefaultAWSCredentialsIdentityResolver.cs@69556ab7 (environment before profile in v4)",
        },
        Row {
            rule: Rule::PartialKeys(OnBad::Skip),
            source: "aws-sdk-net EnvironmentVariablesAWSCredentials throws; the resolver catches it and moves on",
        },
        Row {
            rule: Rule::MissingProfile(OnBad::Skip),
            source: "aws-sdk-net DefaultAWSCredentialsIdentityResolver.cs@69556ab7 GetAWSCredentials throws \"Unable to find the profile\"; caught, next",
        },
        Row {
            rule: Rule::MissingTokenFile(OnBad::Skip),
            source: "aws-sdk-net DefaultAWSCredentialsIdentityResolver.cs@69556ab7 (every generator's exception is caught)",
        },
        Row {
            rule: Rule::NoCredentials("Unable to find credentials"),
            source: "aws-sdk-net DefaultAWSCredentialsIdentityResolver.cs@69556ab7",
        },
        Row {
            rule: Rule::FirstStop(First::Region),
            source: "aws-sdk-net: the region is resolved when the client is constructed",
        },
        Row {
            rule: Rule::TrustRoots(&["SSL_CERT_FILE", "SSL_CERT_DIR"]),
            source: ".NET on Linux validates through OpenSSL's default paths; no AWS_CA_BUNDLE",
        },
        Row {
            rule: Rule::Endpoints(&[
                "AWS_ENDPOINT_URL",
                "AWS_ENDPOINT_URL_<SERVICE>",
                "endpoint_url",
                "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
            ]),
            source: "AWS SDKs and Tools Reference Guide, \"Service-specific endpoints\" (.NET supports them)",
        },
        Row {
            rule: Rule::LoadsConfigFile(true),
            source: "aws-sdk-net CredentialProfileStoreChain (SharedCredentialsFile reads both files)",
        },
        Row {
            rule: Rule::CredentialProcess("runs it; a failure (ProcessAWSCredentialException) ends the chain"),
            source: "aws-sdk-net DefaultAWSCredentialsIdentityResolver.cs@69556ab7",
        },
        Row {
            rule: Rule::Sso("uses the cached SSO token (needs AWSSDK.SSO and AWSSDK.SSOOIDC)"),
            source: "aws-sdk-net SSOAWSCredentials",
        },
    ],
};
