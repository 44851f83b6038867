#pragma once
/// TNN's two stages as one resumable run folder (`lowbit tnn-convert FILE --out DIR`, and
/// the study kind "tnn"): the teacher is trained in DIR/teacher (resumed from its checkpoint
/// after an interruption, reused when finished), then converted into the ternary student in
/// DIR (experiment/tnn_convert.h). A run folder of a finished teacher can be converted on its
/// own as well (`lowbit tnn-convert RUN_DIR`).
///
///   DIR/config.json          {"teacher": resolved experiment (no output), "tnn_convert": {"examples": N}}
///   DIR/teacher/...          the teacher's run folder (lowbit train's files)
///   DIR/student.safetensors  ternary weights, thresholds, output biases
///   DIR/metrics.json         teacher and student test accuracy, per-layer fit (written last)
///
///   TnnRunResult r = train_and_convert_tnn(file, sets, {.out_dir = "runs/tnn", .examples = 1000});
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "experiment/tnn_convert.h"

namespace lowbit {

struct TnnRunOptions {
  std::string out_dir;      ///< DIR ("" = the teacher experiment's output.dir)
  int64_t examples = 1000;  ///< training images the student is fitted on
  bool interactive = false;
};

/// The config.json of a TNN run folder, from the teacher's resolved experiment (its
/// output.dir is dropped: the teacher always trains in DIR/teacher).
nlohmann::json tnn_run_config(nlohmann::json teacher_resolved, int64_t examples);

/// The teacher experiment `file` with `sets` applied, resolved as `lowbit train` would.
nlohmann::json resolve_tnn_teacher(const std::string& file, const std::vector<std::string>& sets);

/// metrics.json of a conversion: {"teacher_run", "examples", "teacher_test_accuracy",
/// "student_test_accuracy", "student_fit_images_accuracy", "layers"} (accuracies as fractions).
nlohmann::json tnn_metrics(const TnnConversion& c, const std::string& teacher_run, int64_t examples);

/// Converts a trained teacher and writes DIR/student.safetensors, then DIR/metrics.json.
nlohmann::json convert_and_write_tnn(Experiment& teacher, const std::string& teacher_run,
                                     const std::string& out_dir, int64_t examples);

/// Both stages: refuses (before training) a DIR whose config.json is another run's; writes
/// config.json, trains or resumes or reuses the teacher in DIR/teacher, converts. Throws when
/// the teacher's training is interrupted (run the same command again to resume).
nlohmann::json train_and_convert_tnn(const std::string& file, const std::vector<std::string>& sets,
                                     const TnnRunOptions& options);

/// Registers the study kind "tnn" (`"kind": "tnn"` in a study entry whose file is a teacher):
/// child `lowbit tnn-convert FILE --out DIR --examples N --set ...` (entry "options":
/// {"examples": N}, default 1000), finished by DIR/metrics.json, its own
/// table section (teacher vs student test accuracy over seeds).
void register_tnn_run_kind();

}  // namespace lowbit
