//! Model management: conversion from CTranslate2 and download of official
//! ggml models.

pub mod ct2;
pub mod fetch;
