# Three changes to whisper.cpp's DTW word alignment (the pass that times
# each word), applied to whisper-rs-sys's copy of the sources when CMake
# configures it: `.cargo/config.toml` names this file as CMAKE_PROJECT_INCLUDE,
# which whisper-rs-sys passes on to CMake, which includes it after every
# project() call. The sources in ~/.cargo are not touched; the copy in the
# build's OUT_DIR is. Measured in the README (Benchmarks).
#
# 1. The alignment pass runs the decoder over a window's text only for its
#    cross-attention: it no longer computes and copies the vocabulary's
#    logits for every token (51,864 × the text's tokens each window).
# 2. Its post-processing graph runs on the job's threads rather than on a
#    new CPU backend's default of 4 (on 2 cores, 4 threads spin against 2).
# 3. Its median filter, one thread's work, is shared out among them.
#
# When whisper-rs-sys is upgraded and a text below is no longer found, the
# build stops here: check whether upstream has made the change, then update
# or drop it.
if(NOT PROJECT_NAME STREQUAL "whisper.cpp")
    return()
endif()

set(_steno_source "${CMAKE_CURRENT_SOURCE_DIR}/src/whisper.cpp")
file(READ "${_steno_source}" _steno_text)
set(_steno_before "${_steno_text}")

macro(_steno_replace old new)
    string(FIND "${_steno_text}" "${new}" _steno_done)
    if(_steno_done EQUAL -1)
        string(FIND "${_steno_text}" "${old}" _steno_found)
        if(_steno_found EQUAL -1)
            message(FATAL_ERROR "steno: ${_steno_source} no longer has the text this patch replaces:\n${old}\n(.cargo/whisper.cpp.cmake)")
        endif()
        string(REPLACE "${old}" "${new}" _steno_text "${_steno_text}")
    endif()
endmacro()

# 1. No logits in the alignment pass.
_steno_replace(
    "    //cur = ggml_view_2d(ctx0, cur, cur->ne[0], 1, cur->nb[1], (cur->ne[1] - 1)*cur->nb[1]);"
    "    if (save_alignment_heads_QKs) { cur = ggml_view_2d(ctx0, cur, cur->ne[0], 1, cur->nb[1], (cur->ne[1] - 1)*cur->nb[1]); } // steno: no logits in the DTW pass")
_steno_replace(
    "        if (batch.logits[i] == 0) {\n            continue;\n        }\n        ggml_backend_tensor_get(logits,"
    "        if (batch.logits[i] == 0 || save_alignment_heads_QKs) { // steno: no logits in the DTW pass\n            continue;\n        }\n        ggml_backend_tensor_get(logits,")

# 2. The post-processing on the job's threads.
_steno_replace(
    "    ggml_backend_ptr backend { ggml_backend_init_by_type(GGML_BACKEND_DEVICE_TYPE_CPU, nullptr) };\n    ggml_backend_graph_compute(backend.get(), gf);"
    "    ggml_graph_compute_helper(gf, n_threads, nullptr, nullptr); // steno: the job's threads")

# 3. The median filter shared out among them.
_steno_replace(
    "    if (ith != 0) {\n        return;\n    }\n    int filter_width = ((median_filter_user_data *) userdata)->filter_width;"
    "    int filter_width = ((median_filter_user_data *) userdata)->filter_width; // steno: every thread its own heads")
_steno_replace(
    "    for (int64_t i = 0; i < a->ne[0]; ++i) {\n        for (int64_t j = 0; j < a->ne[1]; ++j) {\n            for (int64_t k = 0; k < a->ne[2]; ++k) {\n                for (int64_t off = -filter_width/2;"
    "    for (int64_t i = ith; i < a->ne[0]; i += nth) {\n        for (int64_t j = 0; j < a->ne[1]; ++j) {\n            for (int64_t k = 0; k < a->ne[2]; ++k) {\n                for (int64_t off = -filter_width/2;")
_steno_replace(
    "static void median_filter(struct ggml_tensor * dst , const struct ggml_tensor * a, int ith, int /*nth*/, void * userdata) {"
    "static void median_filter(struct ggml_tensor * dst , const struct ggml_tensor * a, int ith, int nth, void * userdata) {")
_steno_replace(
    "    w = ggml_map_custom1(gctx, w, median_filter, 1, &mf_user_data);"
    "    w = ggml_map_custom1(gctx, w, median_filter, GGML_N_TASKS_MAX, &mf_user_data); // steno: shared out")

if(NOT _steno_text STREQUAL _steno_before)
    file(WRITE "${_steno_source}" "${_steno_text}")
    message(STATUS "steno: patched whisper.cpp's DTW word alignment (.cargo/whisper.cpp.cmake)")
endif()
