//! Model management: conversion from CTranslate2 and of Silero VAD, and
//! download of official ggml models.

pub mod ct2;
pub mod fetch;
pub mod silero;
