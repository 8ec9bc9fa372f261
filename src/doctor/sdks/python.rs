//! botocore 1.43.127 (boto3) and AWS CLI v1 1.46.3 (which vendors its own
//! botocore, awscli/botocore): read from the sources installed in .venv and
//! proven against both by tests/infra/sdk_conformance.py.

use super::table::{Basis, First, OnBad, RegionFiles, Row, Rule, Sdk, Source, Table};

/// The table.
pub const TABLE: Table = Table {
    sdk: Sdk::Python,
    name: "botocore/boto3 and AWS CLI v1",
    apps: "Python services and AWS CLI v1",
    version: "botocore 1.43.127, awscli 1.46.3",
    basis: Basis::SourceAndConformance,
    rows: &[
        Row {
            rule: Rule::Chain(&[
                Source::Environment,
                Source::AssumeRoleProfile,
                Source::WebIdentityEnv,
                Source::Profile,
                Source::Container,
                Source::InstanceMetadata,
            ]),
            source: "botocore 1.43.127 credentials.py create_credential_resolver: env, assume-role, then ProfileProviderBuilder (web identity, sso, shared credentials, login, process, config file), container, instance metadata",
        },
        Row {
            rule: Rule::RegionVariables(&["AWS_DEFAULT_REGION"]),
            source: "botocore 1.43.127 configprovider.py BOTOCORE_DEFAULT_SESSION_VARIABLES 'region': ('region', 'AWS_DEFAULT_REGION', ...): AWS_REGION is not read",
        },
        Row {
            rule: Rule::RegionFiles(RegionFiles::CredentialsFirst),
            source: "botocore 1.43.127 session.py full_config: the credentials file's profiles are merged over the config file's, so a region there counts (found by the conformance test; we had read it as config-only)",
        },
        Row {
            rule: Rule::NoRegion("You must specify a region."),
            source: "botocore 1.43.127 exceptions.py NoRegionError",
        },
        Row {
            rule: Rule::ProfileSkipsEnvironment(false),
            source: "botocore 1.43.127 credentials.py create_credential_resolver: only a profile passed to Session(profile=) or `aws --profile` disables EnvProvider, not AWS_PROFILE",
        },
        Row {
            rule: Rule::PartialKeys(OnBad::Stop("Partial credentials found in env, missing: {missing}")),
            source: "botocore 1.43.127 credentials.py EnvProvider._create_credentials_fetcher, exceptions.py PartialCredentialsError",
        },
        Row {
            rule: Rule::SecretWithoutKey(OnBad::Skip),
            source: "botocore 1.43.127 credentials.py EnvProvider.load: the environment counts only when AWS_ACCESS_KEY_ID is set; a lone secret is ignored",
        },
        Row {
            rule: Rule::MissingProfile(OnBad::Stop("The config profile ({profile}) could not be found")),
            source: "botocore 1.43.127 session.py _get_scoped_config raises ProfileNotFound (exceptions.py)",
        },
        Row {
            rule: Rule::MissingTokenFile(OnBad::Stop("No such file or directory")),
            source: "botocore 1.43.127 utils.py FileWebIdentityTokenLoader opens the file when credentials are fetched",
        },
        Row {
            rule: Rule::NoCredentials("Unable to locate credentials"),
            source: "botocore 1.43.127 exceptions.py NoCredentialsError",
        },
        Row {
            rule: Rule::FirstStop(First::Credentials),
            source: "botocore 1.43.127 session.py create_client: get_credentials() before the endpoint (and its region) is resolved",
        },
        Row {
            rule: Rule::NoCredentialsAtCall(true),
            source: "botocore 1.43.127 signers.py: no credentials is NoCredentialsError when the request is signed, after NoRegionError at create_client",
        },
        Row {
            rule: Rule::TrustRoots(&["AWS_CA_BUNDLE", "ca_bundle"]),
            source: "botocore 1.43.127 configprovider.py 'ca_bundle': ('ca_bundle', 'AWS_CA_BUNDLE'); httpsession.py falls back to certifi, never to SSL_CERT_FILE",
        },
        Row {
            rule: Rule::Endpoints(&[
                "AWS_ENDPOINT_URL",
                "AWS_ENDPOINT_URL_<SERVICE>",
                "endpoint_url",
                "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
            ]),
            source: "botocore 1.43.127 configprovider.py ConfiguredEndpointProvider",
        },
        Row {
            rule: Rule::LoadsConfigFile(true),
            source: "botocore 1.43.127 configprovider.py 'config_file': AWS_CONFIG_FILE, ~/.aws/config, always read",
        },
        Row {
            rule: Rule::CredentialProcess("runs it after the credentials file; a failure (exit code, bad JSON) stops the chain with CredentialRetrievalError"),
            source: "botocore 1.43.127 credentials.py ProcessProvider",
        },
        Row {
            rule: Rule::Sso("uses the token `aws sso login` cached; a missing or expired token stops the chain (UnauthorizedSSOTokenError)"),
            source: "botocore 1.43.127 credentials.py SSOProvider",
        },
    ],
};
