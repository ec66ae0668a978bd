"""A background upload's file kept in pieces (BatchUploadPart) instead of whole on the batch
(Batch.upload_data), so that no process holds it whole; files of batches still waiting move
into one piece each."""

import django.db.models.deletion
from django.db import migrations, models


def files_into_parts(apps, schema_editor):
    Batch = apps.get_model("codes", "Batch")
    Part = apps.get_model("codes", "BatchUploadPart")
    for pk in Batch.objects.filter(upload_data__isnull=False).values_list("pk", flat=True):
        data = Batch.objects.filter(pk=pk).values_list("upload_data", flat=True).get()
        Part.objects.create(batch_id=pk, index=0, data=bytes(data))


def parts_into_files(apps, schema_editor):
    Batch = apps.get_model("codes", "Batch")
    Part = apps.get_model("codes", "BatchUploadPart")
    for pk in Part.objects.values_list("batch_id", flat=True).distinct():
        pieces = Part.objects.filter(batch_id=pk).order_by("index").values_list("data", flat=True)
        Batch.objects.filter(pk=pk).update(upload_data=b"".join(bytes(p) for p in pieces))


class Migration(migrations.Migration):
    dependencies = [("codes", "0013_f_pool_code_pattern")]

    operations = [
        migrations.CreateModel(
            name="BatchUploadPart",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("index", models.PositiveIntegerField()),
                ("data", models.BinaryField()),
                (
                    "batch",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="upload_parts",
                        to="codes.batch",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("batch", "index"), name="batchuploadpart_unique"
                    )
                ],
            },
        ),
        migrations.RunPython(files_into_parts, parts_into_files),
        migrations.RemoveField(model_name="batch", name="upload_data"),
    ]
