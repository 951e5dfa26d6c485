"""Job kind "export_household": one download of everything a household holds."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("memories", "0006_erasure_selected")]

    operations = [
        migrations.AlterField(
            model_name="job",
            name="kind",
            field=models.CharField(choices=[
                ("export_json", "JSON export"), ("export_csv", "CSV export"), ("delete_memories", "Delete memories"),
                ("export_household", "Everything the household holds (JSON)")], max_length=20),
        ),
    ]
