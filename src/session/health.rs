//! `grpc.health.v1.Health/Check`: the daemon probes it every few seconds and drops the
//! session at the first failure, so it always answers SERVING while the session lives.

use bollard_buildkit_proto::health::health_check_response::ServingStatus;
use bollard_buildkit_proto::health::health_server::{Health, HealthServer};
use bollard_buildkit_proto::health::{HealthCheckRequest, HealthCheckResponse, HealthListRequest, HealthListResponse};
use tonic::{Request, Response, Status};

pub(crate) struct HealthService;

pub(crate) const METHODS: &[&str] = &["Check"];

pub(crate) fn server() -> HealthServer<HealthService> {
    HealthServer::new(HealthService)
}

#[tonic::async_trait]
impl Health for HealthService {
    async fn check(&self, _: Request<HealthCheckRequest>) -> Result<Response<HealthCheckResponse>, Status> {
        Ok(Response::new(HealthCheckResponse { status: ServingStatus::Serving as i32 }))
    }
    async fn list(&self, _: Request<HealthListRequest>) -> Result<Response<HealthListResponse>, Status> {
        Err(Status::unimplemented("Health/List is not served"))
    }
    type WatchStream = tokio_stream::Empty<Result<HealthCheckResponse, Status>>;
    async fn watch(&self, _: Request<HealthCheckRequest>) -> Result<Response<Self::WatchStream>, Status> {
        Err(Status::unimplemented("Health/Watch is not served"))
    }
}
